//! Column-level comparison of two canonical plans.

use crate::ColumnChanges;
use rulec_compile::datafusion_common::TableReference;
use rulec_compile::datafusion_common::tree_node::Transformed;
use rulec_compile::datafusion_expr::LogicalPlan;
use rulec_compile::{Pipeline, column_fingerprint, rows_fingerprint};
use std::collections::BTreeMap;

/// `plan` with its scans of renamed tables (new name → old name) under their old names.
pub(crate) fn rename_scans(plan: &LogicalPlan, new_to_old: &BTreeMap<&str, &str>) -> LogicalPlan {
    if new_to_old.is_empty() {
        return plan.clone();
    }
    plan.clone()
        .transform_up_with_subqueries(|node| match node {
            LogicalPlan::TableScan(mut scan) => match new_to_old.get(scan.table_name.table()) {
                Some(old) => {
                    scan.table_name = TableReference::bare(*old);
                    Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
                }
                None => Ok(Transformed::no(LogicalPlan::TableScan(scan))),
            },
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
        .unwrap_or_else(|_| plan.clone())
}

/// Whether the two plans may give different rows (a different number of rows, whatever
/// their columns).
pub(crate) fn rows_changed(pipeline: &Pipeline, old: &LogicalPlan, new: &LogicalPlan) -> bool {
    match (
        rows_fingerprint(pipeline, old),
        rows_fingerprint(pipeline, new),
    ) {
        (Some(a), Some(b)) => a != b,
        _ => true,
    }
}

/// Which output columns were added, removed, or changed (their values may differ: an
/// expression, a type, or the rows changed).
pub(crate) fn compare(pipeline: &Pipeline, old: &LogicalPlan, new: &LogicalPlan) -> ColumnChanges {
    let names = |plan: &LogicalPlan| -> Vec<String> {
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    };
    let (old_names, new_names) = (names(old), names(new));
    let mut changes = ColumnChanges::default();
    for name in &old_names {
        if !new_names.contains(name) {
            changes.removed.push(name.clone());
        } else {
            let before = column_fingerprint(pipeline, old, name);
            let after = column_fingerprint(pipeline, new, name);
            if before.is_none() || before != after {
                changes.changed.push(name.clone());
            }
        }
    }
    changes.added = new_names
        .iter()
        .filter(|n| !old_names.contains(n))
        .cloned()
        .collect();
    changes
}
