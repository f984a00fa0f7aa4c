//! Sliced builds: a product declared with `slice_by: COLUMN` (pack.yaml `products:`) is
//! built in `slices` passes, each reading only the input rows whose key falls in its slice,
//! and the passes' rows are written one after the other into the product's one file.
//!
//! That is sound only when every output row depends on input rows of its own key alone:
//! [`slice`] follows the key column down the plan (projections, filters, grouping keys,
//! equi-join keys on the side whose rows are kept, union branches, unnest pass-through
//! columns, window partitions) to every table scan, and refuses any operator across keys
//! (a global aggregate, a LIMIT, a sort, a full join, a join without the key, a subquery).
//! Each scan then gets a filter `abs(key % slices) = i` (NULL keys go to slice 0), which
//! DataFusion pushes into the Parquet scan (evaluated while decoding: the passes run with
//! Parquet filter pushdown on). A query whose memory grows with its input (an aggregation
//! into lists, a join's build side) then needs about a slice's share of it.

use arrow_schema::DataType;
use datafusion_common::tree_node::TreeNode as _;
use datafusion_common::{Column, DFSchema, DFSchemaRef};
use datafusion_expr::expr::{Alias, Cast, TryCast, WindowFunction};
use datafusion_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder, Sort, lit};
use datafusion_functions::math::expr_fn::abs;

/// Why a plan cannot be sliced by its key.
pub type Refusal = String;

/// `plan` with a filter that keeps slice `index` of `count` at every scan it reads, the key
/// being output column `key` of `plan`.
pub fn slice(
    plan: &LogicalPlan,
    key: usize,
    index: usize,
    count: usize,
) -> Result<LogicalPlan, Refusal> {
    let keep = |column: Expr| -> Expr {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let index = i64::try_from(index).unwrap_or(0);
        let in_slice = abs(column.clone() % lit(count)).eq(lit(index));
        if index == 0 {
            in_slice.or(column.is_null())
        } else {
            in_slice
        }
    };
    rewrite(plan, key, &column_name(plan.schema(), key), &keep)
}

fn column_name(schema: &DFSchemaRef, index: usize) -> String {
    schema.field(index).name().clone()
}

/// The column an expression carries the value of: the column itself, an alias of it, or a
/// lossless cast of an integer column to a wider integer (as join keys of different widths
/// are cast), which keeps every value, so its slice.
fn key_column<'a>(expr: &'a Expr, schema: &DFSchema) -> Option<&'a Column> {
    match expr {
        Expr::Column(c) => Some(c),
        Expr::Alias(Alias { expr, .. }) => key_column(expr, schema),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            let column = key_column(expr, schema)?;
            let (_, from) = schema.qualified_field_from_column(column).ok()?;
            lossless_integer_cast(from.data_type(), field.data_type()).then_some(column)
        }
        _ => None,
    }
}

fn lossless_integer_cast(from: &DataType, to: &DataType) -> bool {
    let (Some(from_width), Some(to_width)) = (from.primitive_width(), to.primitive_width()) else {
        return false;
    };
    from.is_integer()
        && to.is_integer()
        && if from.is_signed_integer() == to.is_signed_integer() {
            from_width <= to_width
        } else {
            from.is_unsigned_integer() && from_width < to_width
        }
}

/// Whether an expression holds a subquery (or refers to an outer query's row).
pub(crate) fn has_subquery(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_)
                | Expr::Exists(_)
                | Expr::InSubquery(_)
                | Expr::OuterReferenceColumn(..)
        ))
    })
    .unwrap_or(true)
}

fn input_index(input: &LogicalPlan, column: &Column) -> Result<usize, Refusal> {
    input
        .schema()
        .index_of_column(column)
        .map_err(|e| format!("cannot follow `{column}`: {e}"))
}

/// `plan` with the slice filter `keep` at every scan, the key being its output column `key`;
/// `key_name` is the product's name for the key, for messages.
fn rewrite(
    plan: &LogicalPlan,
    key: usize,
    key_name: &str,
    keep: &dyn Fn(Expr) -> Expr,
) -> Result<LogicalPlan, Refusal> {
    if plan.expressions().iter().any(has_subquery) {
        return Err(format!(
            "a subquery is computed across `{key_name}` ({})",
            plan.display()
        ));
    }
    let same = |input: &LogicalPlan| -> Result<LogicalPlan, Refusal> {
        let new_input = rewrite(input, key, key_name, keep)?;
        plan.with_new_exprs(plan.expressions(), vec![new_input])
            .map_err(|e| e.to_string())
    };
    match plan {
        LogicalPlan::TableScan(scan) => {
            if scan.fetch.is_some() {
                return Err(format!("the scan of `{}` has a LIMIT", scan.table_name));
            }
            let (qualifier, field) = scan.projected_schema.qualified_field(key);
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            LogicalPlanBuilder::from(plan.clone())
                .filter(keep(column))
                .and_then(LogicalPlanBuilder::build)
                .map_err(|e| e.to_string())
        }
        LogicalPlan::Projection(projection) => {
            let column =
                key_column(&projection.expr[key], projection.input.schema()).ok_or_else(|| {
                    format!(
                        "`{key_name}` is computed ({}), not a column the rows are read with",
                        projection.expr[key]
                    )
                })?;
            let inner = input_index(&projection.input, column)?;
            let new_input = rewrite(&projection.input, inner, key_name, keep)?;
            plan.with_new_exprs(plan.expressions(), vec![new_input])
                .map_err(|e| e.to_string())
        }
        LogicalPlan::Filter(filter) => same(&filter.input),
        LogicalPlan::SubqueryAlias(alias) => same(&alias.input),
        LogicalPlan::Distinct(datafusion_expr::Distinct::All(input)) => same(input),
        LogicalPlan::Aggregate(aggregate) => {
            let column = aggregate
                .group_expr
                .get(key)
                .and_then(|e| key_column(e, aggregate.input.schema()))
                .ok_or_else(|| format!("an aggregate does not group by `{key_name}`"))?;
            let inner = input_index(&aggregate.input, column)?;
            let new_input = rewrite(&aggregate.input, inner, key_name, keep)?;
            plan.with_new_exprs(plan.expressions(), vec![new_input])
                .map_err(|e| e.to_string())
        }
        LogicalPlan::Window(window) => {
            let inputs = window.input.schema().fields().len();
            if key >= inputs {
                return Err(format!("`{key_name}` is a window function's result"));
            }
            let (qualifier, field) = window.input.schema().qualified_field(key);
            let key_col = Column::new(qualifier.cloned(), field.name());
            for expr in &window.window_expr {
                let mut inner = expr;
                while let Expr::Alias(Alias { expr, .. }) = inner {
                    inner = expr;
                }
                let Expr::WindowFunction(function) = inner else {
                    return Err(format!("an unexpected window expression {expr}"));
                };
                let WindowFunction { params, .. } = function.as_ref();
                if !params
                    .partition_by
                    .iter()
                    .any(|p| key_column(p, window.input.schema()) == Some(&key_col))
                {
                    return Err(format!(
                        "the window {expr} is not partitioned by `{key_name}`"
                    ));
                }
            }
            same(&window.input)
        }
        LogicalPlan::Union(union) => {
            let inputs = union
                .inputs
                .iter()
                .map(|input| rewrite(input, key, key_name, keep))
                .collect::<Result<Vec<_>, _>>()?;
            plan.with_new_exprs(plan.expressions(), inputs)
                .map_err(|e| e.to_string())
        }
        LogicalPlan::Unnest(unnest) => {
            let inner = unnest.dependency_indices[key];
            let unnested = unnest.list_type_columns.iter().any(|(i, _)| *i == inner)
                || unnest.struct_type_columns.contains(&inner);
            if unnested {
                return Err(format!("`{key_name}` comes out of an UNNEST"));
            }
            let new_input = rewrite(&unnest.input, inner, key_name, keep)?;
            plan.with_new_exprs(plan.expressions(), vec![new_input])
                .map_err(|e| e.to_string())
        }
        LogicalPlan::Join(join) => {
            if join.null_aware {
                return Err("a NOT IN subquery depends on every row of its table".to_owned());
            }
            let left_width = join.left.schema().fields().len();
            let not_kept = || {
                format!(
                    "`{key_name}` comes from the side a {} join does not keep whole",
                    join.join_type
                )
            };
            // The side the key comes from, and its index there (semi and anti joins output
            // one side only).
            let (from_left, side_key) = match join.join_type {
                JoinType::Inner if key < left_width => (true, key),
                JoinType::Inner => (false, key - left_width),
                JoinType::Left if key < left_width => (true, key),
                JoinType::Right if key >= left_width => (false, key - left_width),
                JoinType::Left | JoinType::Right => return Err(not_kept()),
                JoinType::LeftSemi | JoinType::LeftAnti => (true, key),
                JoinType::RightSemi | JoinType::RightAnti => (false, key),
                JoinType::Full | JoinType::LeftMark | JoinType::RightMark => {
                    return Err(format!(
                        "a {} join keeps rows whatever their `{key_name}`",
                        join.join_type
                    ));
                }
            };
            let (side, other) = if from_left {
                (&join.left, &join.right)
            } else {
                (&join.right, &join.left)
            };
            if side_key >= side.schema().fields().len() {
                return Err(format!(
                    "`{key_name}` is not a column of the join's kept side"
                ));
            }
            let (qualifier, field) = side.schema().qualified_field(side_key);
            let key_col = Column::new(qualifier.cloned(), field.name());
            let other_column = join
                .on
                .iter()
                .find_map(|(l, r)| {
                    let (mine, theirs) = if from_left { (l, r) } else { (r, l) };
                    (key_column(mine, side.schema()) == Some(&key_col))
                        .then(|| key_column(theirs, other.schema()))
                        .flatten()
                })
                .ok_or_else(|| format!("a join is not on `{key_name}`"))?;
            let other_key = input_index(other, other_column)?;
            let side = rewrite(side, side_key, key_name, keep)?;
            let other = rewrite(other, other_key, key_name, keep)?;
            let inputs = if from_left {
                vec![side, other]
            } else {
                vec![other, side]
            };
            plan.with_new_exprs(plan.expressions(), inputs)
                .map_err(|e| e.to_string())
        }
        LogicalPlan::Sort(Sort { .. }) => Err(format!(
            "an ORDER BY orders rows across `{key_name}` (declare `order_by` instead)"
        )),
        LogicalPlan::Limit(_) => Err("a LIMIT counts rows across every key".to_owned()),
        other => Err(format!(
            "`{}` is not known to keep rows of one `{key_name}` apart",
            other.display()
        )),
    }
}
