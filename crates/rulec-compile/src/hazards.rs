//! Constructs DataFusion 55.2 plans into wrong results. rulec refuses them at check time,
//! with the way around, rather than run a rule that answers something else.

use crate::errors::to_span;
use datafusion_common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion_expr::expr::SetComparison;
use datafusion_expr::{Expr, LogicalPlan};
use rulec_diagnostics::Span;

/// A construct DataFusion would answer wrongly.
pub(crate) struct Hazard {
    pub message: String,
    pub help: String,
    /// Where the plan says the construct is, when it knows.
    pub span: Option<Span>,
}

/// The first construct of `plan` (as first planned) that DataFusion would answer wrongly.
pub(crate) fn wrong_result_hazard(plan: &LogicalPlan) -> Option<Hazard> {
    let mut hazard = None;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::SetComparison(comparison) = e {
                    hazard = same_table_set_comparison(comparison);
                }
                Ok(if hazard.is_some() {
                    TreeNodeRecursion::Stop
                } else {
                    TreeNodeRecursion::Continue
                })
            })
        })
    });
    hazard
}

/// `x > ANY (SELECT x FROM t)` where the outer `x` is `t.x` too. DataFusion's
/// `rewrite_set_comparison` turns the comparison into EXISTS subqueries filtered on
/// `outer t.x > t.x`; decorrelating them leaves a join filter `t.x > t.x` in which both
/// sides are the outer column (the query above returns no rows).
fn same_table_set_comparison(comparison: &SetComparison) -> Option<Hazard> {
    let inner = comparison.subquery.subquery.schema();
    let column = comparison.expr.column_refs().into_iter().find(|column| {
        column.relation.is_some()
            && inner
                .iter()
                .any(|(q, f)| q == column.relation.as_ref() && f.name() == &column.name)
    })?;
    let table = column.relation.as_ref()?;
    Some(Hazard {
        message: format!(
            "`{column}` is compared with {} to a subquery whose column is also `{column}`: \
             DataFusion 55.2 cannot tell the two apart once it rewrites the comparison, and \
             would answer wrongly",
            comparison.quantifier
        ),
        help: format!("give `{table}` an alias inside the subquery (`FROM {table} AS s`)"),
        span: comparison.subquery.spans.first().and_then(to_span),
    })
}
