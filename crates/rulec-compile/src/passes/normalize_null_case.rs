//! `normalize_null_case`: the CASE spellings of `coalesce` become the one DataFusion's
//! simplifier gives `coalesce` itself.
//!
//! DataFusion simplifies `coalesce(x, y)` to `CASE WHEN x IS NOT NULL THEN x ELSE y END`.
//! Authors also write `CASE WHEN x IS NULL THEN y ELSE x END`, which is the same value in
//! SQL's three-valued logic (a WHEN that is NULL or false falls through alike), and nest
//! CASEs in ELSE where coalesce takes more arguments. This pass:
//!
//! - turns `CASE WHEN x IS NULL THEN y ELSE x END` into `CASE WHEN x IS NOT NULL THEN x
//!   ELSE y END` (`x` may be cast to the CASE's type in the ELSE: a cast of NULL is NULL);
//! - merges a searched CASE in the ELSE of a searched CASE into its arms:
//!   `CASE WHEN a THEN b ELSE CASE WHEN c THEN d ELSE e END END` is
//!   `CASE WHEN a THEN b WHEN c THEN d ELSE e END` (the arms are tried in that order in
//!   both).
//!
//! Volatile expressions are left as written.

use super::InputSchema;
use crate::encode::is_volatile;
use datafusion_expr::Expr;
use datafusion_expr::expr::{Case, Cast};

super::expression_pass!(NormalizeNullCase, "normalize_null_case", rewrite);

fn rewrite(expr: &Expr, _schema: &InputSchema) -> Option<Expr> {
    let Expr::Case(case) = expr else {
        return None;
    };
    if case.expr.is_some() || is_volatile(expr) {
        return None;
    }
    is_null_first(case).or_else(|| merged_else(case))
}

/// `CASE WHEN x IS NULL THEN y ELSE x END` → `CASE WHEN x IS NOT NULL THEN x ELSE y END`.
fn is_null_first(case: &Case) -> Option<Expr> {
    let [(when, then)] = case.when_then_expr.as_slice() else {
        return None;
    };
    let Expr::IsNull(tested) = when.as_ref() else {
        return None;
    };
    let otherwise = case.else_expr.as_deref()?;
    let same = match otherwise {
        Expr::Cast(Cast { expr, .. }) => expr.as_ref() == tested.as_ref(),
        other => other == tested.as_ref(),
    } || otherwise == tested.as_ref();
    if !same {
        return None;
    }
    Some(Expr::Case(Case {
        expr: None,
        when_then_expr: vec![(
            Box::new(Expr::IsNotNull(tested.clone())),
            Box::new(otherwise.clone()),
        )],
        else_expr: Some(then.clone()),
    }))
}

/// A searched CASE in the ELSE of a searched CASE, merged into its arms.
fn merged_else(case: &Case) -> Option<Expr> {
    let Some(Expr::Case(inner)) = case.else_expr.as_deref() else {
        return None;
    };
    if inner.expr.is_some() {
        return None;
    }
    let mut arms = case.when_then_expr.clone();
    arms.extend(inner.when_then_expr.iter().cloned());
    Some(Expr::Case(Case {
        expr: None,
        when_then_expr: arms,
        else_expr: inner.else_expr.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_expr::{col, lit, when};

    fn schema() -> InputSchema {
        InputSchema {
            inputs: Vec::new(),
            merged: std::cell::OnceCell::new(),
        }
    }

    #[test]
    fn is_null_first_becomes_is_not_null_first() {
        let written = when(col("x").is_null(), lit(0))
            .otherwise(col("x"))
            .expect("case");
        let expected = when(col("x").is_not_null(), col("x"))
            .otherwise(lit(0))
            .expect("case");
        assert_eq!(rewrite(&written, &schema()), Some(expected));
    }

    #[test]
    fn a_case_whose_else_is_another_value_is_left_alone() {
        let written = when(col("x").is_null(), lit(0))
            .otherwise(col("y"))
            .expect("case");
        assert_eq!(rewrite(&written, &schema()), None);
    }

    #[test]
    fn a_case_in_else_is_merged_into_the_arms() {
        let inner = when(col("y").is_not_null(), col("y"))
            .otherwise(lit(0))
            .expect("case");
        let written = when(col("x").is_not_null(), col("x"))
            .otherwise(inner)
            .expect("case");
        let expected = when(col("x").is_not_null(), col("x"))
            .when(col("y").is_not_null(), col("y"))
            .otherwise(lit(0))
            .expect("case");
        assert_eq!(rewrite(&written, &schema()), Some(expected));
    }

    #[test]
    fn a_simple_case_is_left_alone() {
        let written = Expr::Case(Case {
            expr: Some(Box::new(col("k"))),
            when_then_expr: vec![(Box::new(lit(1)), Box::new(lit("one")))],
            else_expr: Some(Box::new(Expr::Case(Case {
                expr: None,
                when_then_expr: vec![(Box::new(col("b")), Box::new(lit("two")))],
                else_expr: None,
            }))),
        });
        assert_eq!(rewrite(&written, &schema()), None);
    }
}
