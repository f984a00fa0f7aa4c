//! The printed statement finished for the engine. DataFusion's unparser writes an unnest in
//! the select list of a derived table (`SELECT t.a, UNNEST(t.xs) AS x FROM t`); Spark spells
//! it `explode(t.xs)`, and Trino unnests only in the FROM clause:
//! `SELECT t.a, u.x FROM t CROSS JOIN UNNEST(t.xs) AS u (x)`. Both drop the rows of NULL and
//! empty lists, as the canonical unnest does, and zip several lists of one select as it
//! does. An unnest left in a select list for an engine whose policy marks `unnest`
//! unsupported is noted.

use super::printer::Printer;
use rulec_syntax::dialect::{DialectPolicy, EmitRewrite};
use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Join, JoinConstraint,
    JoinOperator, ObjectName, Query, Select, SelectItem, SetExpr, Statement, TableAlias,
    TableAliasColumnDef, TableFactor, Visit, VisitMut, Visitor, VisitorMut,
};
use std::ops::ControlFlow;

/// Applies the policy's statement-level emit rewrites to `statement`.
pub(super) fn finish(statement: &mut Statement, policy: Option<&DialectPolicy>, printer: &Printer) {
    let Some(policy) = policy else {
        return;
    };
    if policy.emits(EmitRewrite::Explode) {
        let _ = statement.visit(&mut UnnestAsExplode);
    }
    if policy.emits(EmitRewrite::CrossJoinUnnest) {
        let _ = statement.visit(&mut UnnestInFrom { count: 0 });
    }
    if Visit::visit(&*statement, &mut FindUnnest).is_break() {
        printer.used("unnest");
    }
}

fn is_unnest(function: &Function) -> bool {
    function.name.0.len() == 1 && function.name.to_string().eq_ignore_ascii_case("unnest")
}

/// The one plain argument of `function`.
fn single_argument(function: &Function) -> Option<&Expr> {
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] if list.clauses.is_empty() => Some(e),
        _ => None,
    }
}

/// `UNNEST(x)` → `explode(x)`.
struct UnnestAsExplode;

impl VisitorMut for UnnestAsExplode {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr
            && is_unnest(function)
        {
            function.name = ObjectName::from(vec![Ident::new("explode")]);
        }
        ControlFlow::Continue(())
    }
}

/// Select-list `UNNEST(x) AS v` items of a one-source select → `CROSS JOIN UNNEST(x) AS
/// unnest_N (v)` and `unnest_N.v`.
struct UnnestInFrom {
    count: usize,
}

impl VisitorMut for UnnestInFrom {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.body(&mut query.body);
        ControlFlow::Continue(())
    }
}

impl UnnestInFrom {
    fn body(&mut self, body: &mut SetExpr) {
        match body {
            SetExpr::Select(select) => self.select(select),
            SetExpr::SetOperation { left, right, .. } => {
                self.body(left);
                self.body(right);
            }
            _ => {}
        }
    }

    fn select(&mut self, select: &mut Select) {
        if select.from.len() != 1 {
            return;
        }
        let quote = |name: &str| Ident::with_quote('"', name);
        let alias = quote(&format!("unnest_{}", self.count + 1));
        let mut arrays = Vec::new();
        let mut columns = Vec::new();
        for item in &mut select.projection {
            let SelectItem::ExprWithAlias { expr, alias: name } = item else {
                continue;
            };
            let Expr::Function(function) = &*expr else {
                continue;
            };
            if !is_unnest(function) {
                continue;
            }
            let Some(array) = single_argument(function) else {
                continue;
            };
            arrays.push(array.clone());
            columns.push(TableAliasColumnDef {
                name: name.clone(),
                data_type: None,
            });
            *expr = Expr::CompoundIdentifier(vec![alias.clone(), name.clone()]);
        }
        if arrays.is_empty() {
            return;
        }
        self.count += 1;
        select.from[0].joins.push(Join {
            relation: TableFactor::UNNEST {
                alias: Some(TableAlias {
                    explicit: true,
                    name: alias,
                    columns,
                    at: None,
                }),
                array_exprs: arrays,
                with_offset: false,
                with_offset_alias: None,
                with_ordinality: false,
            },
            global: false,
            join_operator: JoinOperator::CrossJoin(JoinConstraint::None),
        });
    }
}

/// Breaks at the first `UNNEST(...)` call.
struct FindUnnest;

impl Visitor for FindUnnest {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(function) if is_unnest(function) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    }
}
