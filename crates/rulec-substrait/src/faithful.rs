//! Constructs DataFusion 55.2's Substrait producer would drop silently. rulec refuses them:
//! a plan that runs differently from the one checked is worse than no plan.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::expr::{NullTreatment, WindowFunction};
use datafusion::logical_expr::{Expr, LogicalPlan};

/// Returns a description of the first construct in `plan` that cannot be encoded faithfully.
pub fn check_encodable(plan: &LogicalPlan) -> Result<(), String> {
    let mut problem: Option<String> = None;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::RecursiveQuery(_) = node {
            problem = Some("recursive CTEs have no Substrait encoding".to_owned());
            return Ok(TreeNodeRecursion::Stop);
        }
        if let LogicalPlan::Distinct(datafusion::logical_expr::Distinct::On(_)) = node {
            problem =
                Some("DISTINCT ON has no Substrait encoding; use a window function".to_owned());
            return Ok(TreeNodeRecursion::Stop);
        }
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Some(p) = expr_problem(e) {
                    problem = Some(p);
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(if problem.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    match problem {
        Some(p) => Err(p),
        None => Ok(()),
    }
}

fn expr_problem(expr: &Expr) -> Option<String> {
    match expr {
        Expr::WindowFunction(w) => {
            let WindowFunction { fun, params } = w.as_ref();
            if params.null_treatment == Some(NullTreatment::IgnoreNulls) {
                return Some(format!(
                    "window function `{fun}` with IGNORE NULLS (the Substrait producer drops it)"
                ));
            }
            if params.distinct {
                return Some(format!(
                    "window function `{fun}` with DISTINCT (the Substrait producer drops it)"
                ));
            }
            if params.filter.is_some() {
                return Some(format!(
                    "window function `{fun}` with FILTER (the Substrait producer drops it)"
                ));
            }
            None
        }
        Expr::AggregateFunction(a) => (a.params.null_treatment == Some(NullTreatment::IgnoreNulls))
            .then(|| {
                format!(
                    "aggregate `{}` with IGNORE NULLS (the Substrait producer drops it)",
                    a.func.name()
                )
            }),
        // DataFusion runs an IN, EXISTS or ANY/ALL subquery only once its optimizer has
        // turned it into a join, which it does in WHERE clauses (a SELECT list's or a join
        // condition's stays, and its physical planner refuses it).
        Expr::InSubquery(_) => Some(
            "an IN (SELECT ...) that DataFusion cannot turn into a join in this position (it does so in WHERE); move it into WHERE or join the subquery".to_owned(),
        ),
        Expr::Exists(_) => Some(
            "an EXISTS subquery that DataFusion cannot turn into a join in this position (it does so in WHERE); move it into WHERE or join the subquery".to_owned(),
        ),
        Expr::SetComparison(_) => Some(
            "an ANY/ALL subquery comparison that DataFusion cannot turn into a join in this position; rewrite it with IN, EXISTS or a join".to_owned(),
        ),
        Expr::OuterReferenceColumn(_, c) => Some(format!(
            "a correlated reference to `{c}` that could not be decorrelated; rewrite the subquery as a join"
        )),
        _ => None,
    }
}
