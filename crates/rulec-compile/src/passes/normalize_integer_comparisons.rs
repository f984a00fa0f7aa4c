//! `normalize_integer_comparisons`: strict comparisons of an integer with an integer
//! literal become inclusive ones.
//!
//! For an integer `x` and literal `c` of the same type, `x < c` is `x <= c - 1` and
//! `x > c` is `x >= c + 1` (both NULL when `x` is NULL); with the literal on the left,
//! `c > x` is `c - 1 >= x` and `c < x` is `c + 1 <= x`. Authors write either, and
//! `NOT (x >= c)` reaches the pipeline as `x < c`. A literal at the type's bound (where
//! `c - 1` or `c + 1` would overflow) is left as written.

use super::InputSchema;
use datafusion_common::ScalarValue;
use datafusion_expr::expr::BinaryExpr;
use datafusion_expr::{Expr, ExprSchemable as _, Operator};

super::expression_pass!(
    NormalizeIntegerComparisons,
    "normalize_integer_comparisons",
    rewrite
);

fn rewrite(expr: &Expr, schema: &InputSchema) -> Option<Expr> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    // (literal side, step, new operator) for `x op c` and `c op x`.
    let (literal_on_right, step, new_op) = match (op, left.as_ref(), right.as_ref()) {
        (Operator::Lt, _, Expr::Literal(..)) => (true, -1, Operator::LtEq),
        (Operator::Gt, _, Expr::Literal(..)) => (true, 1, Operator::GtEq),
        (Operator::Gt, Expr::Literal(..), _) => (false, -1, Operator::GtEq),
        (Operator::Lt, Expr::Literal(..), _) => (false, 1, Operator::LtEq),
        _ => return None,
    };
    let (value, other) = if literal_on_right {
        (right.as_ref(), left.as_ref())
    } else {
        (left.as_ref(), right.as_ref())
    };
    let Expr::Literal(value, metadata) = value else {
        return None;
    };
    let stepped = step_integer(value, step)?;
    // The other side must be of the literal's type (no implicit widening in between).
    let other_type = other.get_type(schema.get()).ok()?;
    if other_type != value.data_type() {
        return None;
    }
    let literal = Box::new(Expr::Literal(stepped, metadata.clone()));
    let (left, right) = if literal_on_right {
        (left.clone(), literal)
    } else {
        (literal, right.clone())
    };
    Some(Expr::BinaryExpr(BinaryExpr::new(left, new_op, right)))
}

/// `value + step` for a non-NULL integer literal, unless that overflows.
fn step_integer(value: &ScalarValue, step: i8) -> Option<ScalarValue> {
    macro_rules! stepped {
        ($variant:ident, $v:expr) => {{
            let v = $v;
            let next = if step > 0 {
                v.checked_add(1)
            } else {
                v.checked_sub(1)
            };
            next.map(|n| ScalarValue::$variant(Some(n)))
        }};
    }
    match value {
        ScalarValue::Int8(Some(v)) => stepped!(Int8, *v),
        ScalarValue::Int16(Some(v)) => stepped!(Int16, *v),
        ScalarValue::Int32(Some(v)) => stepped!(Int32, *v),
        ScalarValue::Int64(Some(v)) => stepped!(Int64, *v),
        ScalarValue::UInt8(Some(v)) => stepped!(UInt8, *v),
        ScalarValue::UInt16(Some(v)) => stepped!(UInt16, *v),
        ScalarValue::UInt32(Some(v)) => stepped!(UInt32, *v),
        ScalarValue::UInt64(Some(v)) => stepped!(UInt64, *v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field, Schema};
    use datafusion_expr::{col, lit};
    use std::sync::Arc;

    fn schema() -> InputSchema {
        let schema = Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
        ]);
        InputSchema {
            inputs: vec![Arc::new(
                datafusion_common::DFSchema::try_from(schema).expect("schema"),
            )],
            merged: std::cell::OnceCell::new(),
        }
    }

    #[test]
    fn strict_comparisons_become_inclusive() {
        let s = schema();
        assert_eq!(
            rewrite(&col("x").lt(lit(10_i64)), &s),
            Some(col("x").lt_eq(lit(9_i64)))
        );
        assert_eq!(
            rewrite(&col("x").gt(lit(9_i64)), &s),
            Some(col("x").gt_eq(lit(10_i64)))
        );
        assert_eq!(
            rewrite(&lit(10_i64).gt(col("x")), &s),
            Some(lit(9_i64).gt_eq(col("x")))
        );
        assert_eq!(
            rewrite(&lit(9_i64).lt(col("x")), &s),
            Some(lit(10_i64).lt_eq(col("x")))
        );
    }

    #[test]
    fn inclusive_comparisons_and_other_types_are_left_alone() {
        let s = schema();
        assert_eq!(rewrite(&col("x").lt_eq(lit(10_i64)), &s), None);
        assert_eq!(rewrite(&col("f").lt(lit(10.0_f64)), &s), None);
        // A literal of another type than the column: the comparison widens, left alone.
        assert_eq!(rewrite(&col("x").lt(lit(10_i32)), &s), None);
    }

    #[test]
    fn bounds_are_left_alone() {
        let s = schema();
        assert_eq!(rewrite(&col("x").lt(lit(i64::MIN)), &s), None);
        assert_eq!(rewrite(&col("x").gt(lit(i64::MAX)), &s), None);
    }
}
