//! rulec's own expression passes: one equivalence each, one file each, named as in the
//! pinned pipeline. Each rewrites every expression of every plan node bottom-up and keeps
//! the names of the expressions it changes.

/// Declares an expression pass: a unit struct `$pass` whose optimizer rule, named `$name`,
/// rewrites every expression of every plan node bottom-up with `$rewrite` (see
/// [`rewrite_node_expressions`]).
macro_rules! expression_pass {
    ($pass:ident, $name:literal, $rewrite:path) => {
        #[derive(Debug, Default)]
        pub struct $pass;

        impl $pass {
            pub const NAME: &'static str = $name;
        }

        impl datafusion_optimizer::OptimizerRule for $pass {
            fn name(&self) -> &str {
                Self::NAME
            }

            fn apply_order(&self) -> Option<datafusion_optimizer::optimizer::ApplyOrder> {
                Some(datafusion_optimizer::optimizer::ApplyOrder::BottomUp)
            }

            fn supports_rewrite(&self) -> bool {
                true
            }

            fn rewrite(
                &self,
                plan: datafusion_expr::LogicalPlan,
                _config: &dyn datafusion_optimizer::OptimizerConfig,
            ) -> datafusion_common::Result<
                datafusion_common::tree_node::Transformed<datafusion_expr::LogicalPlan>,
            > {
                super::rewrite_node_expressions(plan, $rewrite)
            }
        }
    };
}
use expression_pass;

mod normalize_integer_comparisons;
mod normalize_null_case;

pub use normalize_integer_comparisons::NormalizeIntegerComparisons;
pub use normalize_null_case::NormalizeNullCase;

use datafusion_common::tree_node::{Transformed, TreeNode as _};
use datafusion_common::{DFSchema, DFSchemaRef, Result};
use datafusion_expr::expr_rewriter::NamePreserver;
use datafusion_expr::{Expr, LogicalPlan};
use std::cell::OnceCell;
use std::sync::Arc;

/// The columns an expression of a plan node can read: its inputs' schemas, merged on
/// first use (most rewrites never need a type).
pub(crate) struct InputSchema {
    inputs: Vec<DFSchemaRef>,
    merged: OnceCell<DFSchema>,
}

impl InputSchema {
    fn of(plan: &LogicalPlan) -> Self {
        InputSchema {
            inputs: plan
                .inputs()
                .iter()
                .map(|i| Arc::clone(i.schema()))
                .collect(),
            merged: OnceCell::new(),
        }
    }

    pub(crate) fn get(&self) -> &DFSchema {
        self.merged.get_or_init(|| merge_schemas(&self.inputs))
    }
}

/// The columns of several inputs as one schema, for typing expressions. Inputs with
/// clashing qualified names cannot be merged: the later one is left out, typing what reads
/// it fails, and the rewrite that needed a type does not apply.
pub(crate) fn merge_schemas(inputs: &[DFSchemaRef]) -> DFSchema {
    let mut merged = DFSchema::empty();
    for schema in inputs {
        if let Ok(joined) = merged.join(schema) {
            merged = joined;
        }
    }
    merged
}

/// Rewrites every expression of `plan`'s node (not its inputs) bottom-up with `rewrite`,
/// which returns `Some` for a node it changes. Names of changed expressions are kept.
fn rewrite_node_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(&Expr, &InputSchema) -> Option<Expr>,
) -> Result<Transformed<LogicalPlan>> {
    // Leaves and nodes whose expressions are not row expressions of their input.
    if matches!(
        plan,
        LogicalPlan::TableScan(_)
            | LogicalPlan::EmptyRelation(_)
            | LogicalPlan::Values(_)
            | LogicalPlan::Union(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Subquery(_)
            | LogicalPlan::Unnest(_)
    ) {
        return Ok(Transformed::no(plan));
    }
    let schema = InputSchema::of(&plan);
    let names = NamePreserver::new(&plan);
    plan.map_expressions(|expr| {
        // Names are rendered only for expressions that change (rendering is costly).
        if !expr.exists(|e| Ok(rewrite(e, &schema).is_some()))? {
            return Ok(Transformed::no(expr));
        }
        let saved = names.save(&expr);
        let rewritten = expr.transform_up(|e| {
            Ok(match rewrite(&e, &schema) {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(e),
            })
        })?;
        Ok(if rewritten.transformed {
            Transformed::yes(saved.restore(rewritten.data))
        } else {
            rewritten
        })
    })
}
