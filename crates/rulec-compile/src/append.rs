//! Append-incremental products: which inputs a query can be appended from.
//!
//! A product declared `incremental: append` is brought up to date, when its driving input
//! only gained files, by running its query over the new files alone and adding the rows as a
//! new part. That is sound when the query is row-local in that input: each output row comes
//! from one row of it (and of tables that did not change), so the query over the grown input
//! is the query over the old rows followed by the query over the new ones. [`append_sources`]
//! follows the rows down the plan as slices follow their key (projections, filters, unnests,
//! the kept side of a join, every branch of a UNION ALL) to the scans they come from, and
//! refuses what combines rows (an aggregate, DISTINCT, a window, an ORDER BY, a LIMIT, a
//! subquery, a join that keeps rows of the other side whole).

use crate::slices::has_subquery;
use datafusion_expr::{JoinType, LogicalPlan};
use std::collections::BTreeSet;

/// Why a query cannot be appended to.
pub type Refusal = String;

/// The tables a query is row-local in: every scan of such a table is one its output rows
/// come from one by one, and no other part of the query reads it.
pub fn append_sources(plan: &LogicalPlan) -> Result<BTreeSet<String>, Refusal> {
    if plan.expressions().iter().any(has_subquery) {
        return Err(format!("a subquery reads across rows ({})", plan.display()));
    }
    match plan {
        LogicalPlan::TableScan(scan) => {
            if scan.fetch.is_some() {
                return Err(format!("the scan of `{}` has a LIMIT", scan.table_name));
            }
            Ok(BTreeSet::from([scan.table_name.table().to_owned()]))
        }
        LogicalPlan::Projection(p) => append_sources(&p.input),
        LogicalPlan::Filter(f) => append_sources(&f.input),
        LogicalPlan::SubqueryAlias(a) => append_sources(&a.input),
        LogicalPlan::Unnest(u) => append_sources(&u.input),
        LogicalPlan::Union(union) => {
            let mut common: Option<BTreeSet<String>> = None;
            for input in &union.inputs {
                let sources = append_sources(input)?;
                common = Some(match common {
                    None => sources,
                    Some(c) => c.intersection(&sources).cloned().collect(),
                });
            }
            let common = common.unwrap_or_default();
            if common.is_empty() {
                return Err("the branches of a UNION do not all read the same input row by row (rows of the other branches would be added again)".to_owned());
            }
            Ok(common)
        }
        LogicalPlan::Join(join) => {
            if join.null_aware {
                return Err("a NOT IN subquery depends on every row of its table".to_owned());
            }
            let (left, right) = match join.join_type {
                JoinType::Inner => (true, true),
                JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti => (true, false),
                JoinType::Right | JoinType::RightSemi | JoinType::RightAnti => (false, true),
                JoinType::Full | JoinType::LeftMark | JoinType::RightMark => {
                    return Err(format!(
                        "a {} join keeps rows of both sides whole",
                        join.join_type
                    ));
                }
            };
            let mut sources = BTreeSet::new();
            let mut why = Vec::new();
            for (kept, side, other) in [
                (left, &join.left, &join.right),
                (right, &join.right, &join.left),
            ] {
                if !kept {
                    continue;
                }
                match append_sources(side) {
                    Ok(found) => {
                        let elsewhere = scanned_tables(other);
                        sources.extend(found.into_iter().filter(|t| !elsewhere.contains(t)));
                    }
                    Err(reason) => why.push(reason),
                }
            }
            if sources.is_empty() {
                return Err(why.pop().unwrap_or_else(|| {
                    format!(
                        "a {} join reads the same table on both sides",
                        join.join_type
                    )
                }));
            }
            Ok(sources)
        }
        LogicalPlan::Aggregate(_) => {
            Err("an aggregate combines rows (its groups would change with new rows)".to_owned())
        }
        LogicalPlan::Distinct(_) => Err("DISTINCT compares rows with every other row".to_owned()),
        LogicalPlan::Window(_) => Err("a window function reads across rows".to_owned()),
        LogicalPlan::Sort(_) => Err("an ORDER BY orders rows across parts".to_owned()),
        LogicalPlan::Limit(_) => Err("a LIMIT counts rows across every input".to_owned()),
        other => Err(format!(
            "`{}` is not known to keep input rows apart",
            other.display()
        )),
    }
}

/// Every table a plan scans.
pub fn scanned_tables(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            tables.insert(scan.table_name.table().to_owned());
        }
        Ok(datafusion_common::tree_node::TreeNodeRecursion::Continue)
    });
    tables
}
