//! Column lineage from canonical plans.
//!
//! For every output column of every rule: the columns it depends on, through other rules
//! down to contract columns, each edge with a kind ([`EdgeKind`]): *copy* (the value passes
//! through unchanged), *transform* (the value is computed from it) or *inspect* (used only
//! to filter, join, group, order, window or unnest). Struct fields and list elements are
//! followed (`libcst_files.nodes[*].span.start.line0`); `SELECT *` was already expanded by
//! the planner, so it is never a dead end.
//!
//! Lineage is read from the canonical plan alone: no data, no I/O.

mod pack;
mod path;
mod plan;
mod render;

pub use pack::{Edge, PackLineage, RuleLineage};
pub use path::{ColumnRef, Step};
pub use render::{Direction, Format, LineageQuery, render, text_rule};

use std::collections::BTreeMap;

/// How an output column depends on a source column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// The value is passed through unchanged.
    Copy,
    /// The value is computed from the source.
    Transform,
    /// The source is used only to filter, join, group, order, window or unnest.
    Inspect,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Copy => "copy",
            EdgeKind::Transform => "transform",
            EdgeKind::Inspect => "inspect",
        }
    }

    /// Two ways the same output depends on the same source: a value dependency wins over
    /// inspect; copy in one place and transform in another is a transform.
    pub fn merge(self, other: EdgeKind) -> EdgeKind {
        match (self, other) {
            (a, b) if a == b => a,
            (EdgeKind::Inspect, k) | (k, EdgeKind::Inspect) => k,
            _ => EdgeKind::Transform,
        }
    }

    /// A dependency of a dependency: inspect if either is, else transform if either is.
    pub fn compose(self, inner: EdgeKind) -> EdgeKind {
        match (self, inner) {
            (EdgeKind::Inspect, _) | (_, EdgeKind::Inspect) => EdgeKind::Inspect,
            (EdgeKind::Transform, _) | (_, EdgeKind::Transform) => EdgeKind::Transform,
            _ => EdgeKind::Copy,
        }
    }
}

/// Dependencies of one column: source column to edge kind, in a deterministic order.
pub type Deps = BTreeMap<ColumnRef, EdgeKind>;

/// One hop of lineage for any plan (a whole rule, or a subquery or CTE inside one): each
/// output column's dependencies on the tables the plan scans, row dependencies folded in
/// as inspect edges.
pub fn plan_columns(plan: &rulec_compile::datafusion_expr::LogicalPlan) -> Vec<Deps> {
    plan::plan_lineage(plan).finish()
}

#[cfg(test)]
mod tests;
