//! Lineage of one canonical plan: for every output column, the columns of the tables the
//! plan reads that it depends on, each with an [`EdgeKind`].

use crate::path::{ColumnRef, Step};
use crate::{Deps, EdgeKind};
use arrow_schema::DataType;
use rulec_compile::datafusion_common::tree_node::TreeNode as _;
use rulec_compile::datafusion_common::{Column, DFSchemaRef, ScalarValue};
use rulec_compile::datafusion_expr::expr::{
    AggregateFunction, AggregateFunctionParams, Exists, InSubquery, SetComparison, WindowFunction,
    WindowFunctionParams,
};
use rulec_compile::datafusion_expr::logical_plan::{
    Aggregate, Distinct, DistinctOn, Filter, Join, JoinType, Projection, RecursiveQuery, Sort,
    Subquery, TableScan, Union, Unnest, Window,
};
use rulec_compile::datafusion_expr::{Expr, LogicalPlan};
use rulec_compile::{UnnestOutput, unnest_outputs};
use std::collections::BTreeSet;

/// The lineage of one plan node's output.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeLineage {
    /// Per output column: what its values are computed from.
    pub columns: Vec<Deps>,
    /// What decides which rows there are (filters, join keys, grouping keys, sort keys,
    /// unnested lists, DISTINCT): an inspect dependency of every column.
    pub rows: BTreeSet<ColumnRef>,
}

impl NodeLineage {
    /// Every output column's dependencies with the row dependencies folded in.
    pub fn finish(self) -> Vec<Deps> {
        let NodeLineage { columns, rows } = self;
        columns
            .into_iter()
            .map(|mut deps| {
                for source in &rows {
                    add(&mut deps, source.clone(), EdgeKind::Inspect);
                }
                deps
            })
            .collect()
    }
}

/// Adds `source` with `kind`: a value dependency wins over inspect; copy and transform of
/// the same source make transform.
pub(crate) fn add(deps: &mut Deps, source: ColumnRef, kind: EdgeKind) {
    deps.entry(source)
        .and_modify(|k| *k = k.merge(kind))
        .or_insert(kind);
}

/// The lineage of `plan`'s output columns.
pub(crate) fn plan_lineage(plan: &LogicalPlan) -> NodeLineage {
    Analyzer::default().plan(plan)
}

/// The inputs visible to an expression: schemas and lineage, concatenated (a join: left,
/// right).
struct Scope<'a> {
    schemas: Vec<&'a DFSchemaRef>,
    columns: Vec<&'a [Deps]>,
}

impl<'a> Scope<'a> {
    fn one(schema: &'a DFSchemaRef, node: &'a NodeLineage) -> Self {
        Scope {
            schemas: vec![schema],
            columns: vec![&node.columns],
        }
    }

    /// Every dependency of every column in scope, as `kind`.
    fn everything_into(&self, kind: EdgeKind, out: &mut Deps) {
        for columns in &self.columns {
            for deps in columns.iter() {
                for (source, k) in deps {
                    add(out, source.clone(), kind.compose(*k));
                }
            }
        }
    }

    /// The lineage and type of `column`, if it resolves.
    fn resolve(&self, column: &Column) -> Option<(&'a Deps, &'a DataType)> {
        for (schema, columns) in self.schemas.iter().zip(&self.columns) {
            if let Some(index) = schema.maybe_index_of_column(column) {
                return Some((columns.get(index)?, schema.field(index).data_type()));
            }
        }
        None
    }
}

#[derive(Default)]
struct Analyzer {
    /// Lineage of enclosing queries' inputs, innermost last (for outer references).
    outer: Vec<(Vec<DFSchemaRef>, Vec<Vec<Deps>>)>,
}

impl Analyzer {
    fn plan(&mut self, plan: &LogicalPlan) -> NodeLineage {
        match plan {
            LogicalPlan::TableScan(TableScan {
                table_name,
                projected_schema,
                filters,
                ..
            }) => {
                let table = table_name.table().to_owned();
                let columns = projected_schema
                    .fields()
                    .iter()
                    .map(|f| Deps::from([(ColumnRef::new(&table, f.name()), EdgeKind::Copy)]))
                    .collect();
                let mut rows = BTreeSet::new();
                // A scan that reads no column (count(*), a cross join, EXISTS): the table's
                // rows still decide the result.
                if projected_schema.fields().is_empty() {
                    rows.insert(ColumnRef::rows(&table));
                }
                for filter in filters {
                    filter.apply(|e| {
                        if let Expr::Column(c) = e {
                            rows.insert(ColumnRef::new(&table, &c.name));
                        }
                        Ok(rulec_compile::datafusion_common::tree_node::TreeNodeRecursion::Continue)
                    })
                    .ok();
                }
                NodeLineage { columns, rows }
            }
            LogicalPlan::Projection(Projection { expr, input, .. }) => {
                let child = self.plan(input);
                let scope = Scope::one(input.schema(), &child);
                let columns = expr
                    .iter()
                    .map(|e| self.expr_deps(e, &scope, EdgeKind::Copy))
                    .collect();
                NodeLineage {
                    columns,
                    rows: child.rows.clone(),
                }
            }
            LogicalPlan::Filter(Filter {
                predicate, input, ..
            }) => {
                let mut child = self.plan(input);
                let deps = self.expr_deps(
                    predicate,
                    &Scope::one(input.schema(), &child),
                    EdgeKind::Inspect,
                );
                child.rows.extend(deps.into_keys());
                child
            }
            LogicalPlan::Window(Window {
                input, window_expr, ..
            }) => {
                let mut child = self.plan(input);
                let scope = Scope::one(input.schema(), &child);
                let added: Vec<Deps> = window_expr
                    .iter()
                    .map(|e| self.expr_deps(e, &scope, EdgeKind::Copy))
                    .collect();
                child.columns.extend(added);
                child
            }
            LogicalPlan::Aggregate(aggregate) => self.aggregate(aggregate),
            LogicalPlan::Sort(Sort { expr, input, .. }) => {
                let mut child = self.plan(input);
                let scope = Scope::one(input.schema(), &child);
                let mut keys = Deps::new();
                for sort in expr {
                    keys.extend(self.expr_deps(&sort.expr, &scope, EdgeKind::Inspect));
                }
                child.rows.extend(keys.into_keys());
                child
            }
            LogicalPlan::Join(join) => self.join(join),
            LogicalPlan::Union(Union { inputs, .. }) => {
                let mut out = NodeLineage {
                    columns: vec![Deps::new(); plan.schema().fields().len()],
                    rows: BTreeSet::new(),
                };
                for input in inputs {
                    let child = self.plan(input);
                    for (all, deps) in out.columns.iter_mut().zip(child.columns) {
                        for (source, kind) in deps {
                            add(all, source, kind);
                        }
                    }
                    out.rows.extend(child.rows);
                }
                out
            }
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let mut child = self.plan(input);
                let every: Vec<ColumnRef> = child
                    .columns
                    .iter()
                    .flat_map(|d| d.keys().cloned())
                    .collect();
                child.rows.extend(every);
                child
            }
            LogicalPlan::Distinct(Distinct::On(DistinctOn {
                on_expr,
                select_expr,
                sort_expr,
                input,
                ..
            })) => {
                let child = self.plan(input);
                let scope = Scope::one(input.schema(), &child);
                let mut rows = child.rows.clone();
                for e in on_expr {
                    rows.extend(self.expr_deps(e, &scope, EdgeKind::Inspect).into_keys());
                }
                for sort in sort_expr.iter().flatten() {
                    rows.extend(
                        self.expr_deps(&sort.expr, &scope, EdgeKind::Inspect)
                            .into_keys(),
                    );
                }
                let columns = select_expr
                    .iter()
                    .map(|e| self.expr_deps(e, &scope, EdgeKind::Copy))
                    .collect();
                NodeLineage { columns, rows }
            }
            LogicalPlan::Unnest(unnest) => self.unnest(unnest),
            LogicalPlan::Limit(limit) => self.plan(&limit.input),
            LogicalPlan::SubqueryAlias(alias) => self.plan(&alias.input),
            LogicalPlan::Repartition(repartition) => self.plan(&repartition.input),
            LogicalPlan::Subquery(Subquery { subquery, .. }) => self.plan(subquery),
            LogicalPlan::Values(values) => NodeLineage {
                columns: vec![Deps::new(); values.schema.fields().len()],
                rows: BTreeSet::new(),
            },
            LogicalPlan::EmptyRelation(empty) => NodeLineage {
                columns: vec![Deps::new(); empty.schema.fields().len()],
                rows: BTreeSet::new(),
            },
            LogicalPlan::RecursiveQuery(RecursiveQuery {
                name,
                static_term,
                recursive_term,
                ..
            }) => {
                let mut out = self.plan(static_term);
                let recursive = self.plan(recursive_term);
                for (all, deps) in out.columns.iter_mut().zip(recursive.columns) {
                    for (source, kind) in deps {
                        if &source.table != name {
                            add(all, source, kind.merge(EdgeKind::Transform));
                        }
                    }
                }
                out.rows
                    .extend(recursive.rows.into_iter().filter(|s| &s.table != name));
                out
            }
            // Never part of a checked rule; kept conservative: every output column depends
            // on everything the inputs depend on.
            other => {
                let mut everything = Deps::new();
                let mut rows = BTreeSet::new();
                for input in other.inputs() {
                    let child = self.plan(input);
                    for deps in child.columns {
                        for (source, kind) in deps {
                            add(&mut everything, source, kind.merge(EdgeKind::Transform));
                        }
                    }
                    rows.extend(child.rows);
                }
                NodeLineage {
                    columns: vec![everything; other.schema().fields().len()],
                    rows,
                }
            }
        }
    }

    fn aggregate(&mut self, aggregate: &Aggregate) -> NodeLineage {
        let Aggregate {
            input,
            group_expr,
            aggr_expr,
            schema,
            ..
        } = aggregate;
        let child = self.plan(input);
        let scope = Scope::one(input.schema(), &child);
        let mut rows = child.rows.clone();
        let mut columns = Vec::new();
        let mut grouping = Deps::new();
        for group in group_expr {
            match group {
                Expr::GroupingSet(set) => {
                    // Set to NULL in the rows of the sets that leave it out: computed.
                    for e in set.distinct_expr() {
                        let deps = self.expr_deps(e, &scope, EdgeKind::Transform);
                        for source in deps.keys() {
                            add(&mut grouping, source.clone(), EdgeKind::Inspect);
                        }
                        columns.push(deps);
                    }
                }
                e => {
                    let deps = self.expr_deps(e, &scope, EdgeKind::Copy);
                    columns.push(deps);
                }
            }
        }
        for deps in &columns {
            rows.extend(deps.keys().cloned());
        }
        // A grouping set adds the grouping id, computed from which keys are grouped.
        let with_aggregates = columns.len() + aggr_expr.len();
        if schema.fields().len() > with_aggregates {
            columns.push(grouping);
        }
        for e in aggr_expr {
            columns.push(self.expr_deps(e, &scope, EdgeKind::Copy));
        }
        NodeLineage { columns, rows }
    }

    fn join(&mut self, join: &Join) -> NodeLineage {
        let Join {
            left,
            right,
            on,
            filter,
            join_type,
            ..
        } = join;
        let l = self.plan(left);
        let r = self.plan(right);
        let scope = Scope {
            schemas: vec![left.schema(), right.schema()],
            columns: vec![&l.columns, &r.columns],
        };
        let mut keys = Deps::new();
        for (a, b) in on {
            keys.extend(self.expr_deps(a, &scope, EdgeKind::Inspect));
            keys.extend(self.expr_deps(b, &scope, EdgeKind::Inspect));
        }
        if let Some(filter) = filter {
            keys.extend(self.expr_deps(filter, &scope, EdgeKind::Inspect));
        }
        let mut rows: BTreeSet<ColumnRef> = l.rows.union(&r.rows).cloned().collect();
        rows.extend(keys.keys().cloned());
        let mark = || {
            let mut deps = Deps::new();
            for source in keys.keys().chain(&r.rows) {
                add(&mut deps, source.clone(), EdgeKind::Transform);
            }
            deps
        };
        let columns = match join_type {
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                l.columns.iter().chain(&r.columns).cloned().collect()
            }
            JoinType::LeftSemi | JoinType::LeftAnti => l.columns.clone(),
            JoinType::RightSemi | JoinType::RightAnti => r.columns.clone(),
            JoinType::LeftMark => {
                let mut c = l.columns.clone();
                c.push(mark());
                c
            }
            JoinType::RightMark => {
                let mut c = r.columns.clone();
                c.push(mark());
                c
            }
        };
        NodeLineage { columns, rows }
    }

    fn unnest(&mut self, unnest: &Unnest) -> NodeLineage {
        let child = self.plan(&unnest.input);
        let mut rows = child.rows.clone();
        for (index, _) in &unnest.list_type_columns {
            if let Some(deps) = child.columns.get(*index) {
                rows.extend(deps.keys().cloned());
            }
        }
        let columns = unnest_outputs(unnest)
            .into_iter()
            .map(|output| {
                let (input, steps) = match output {
                    UnnestOutput::List { input, depth } => (input, vec![Step::Each; depth]),
                    UnnestOutput::StructField { input, field } => {
                        let name = match unnest.input.schema().field(input).data_type() {
                            DataType::Struct(fields) => fields.get(field).map(|f| f.name().clone()),
                            _ => None,
                        };
                        (input, name.map(Step::Field).into_iter().collect())
                    }
                    UnnestOutput::Passed { input } => (input, Vec::new()),
                };
                let deps = child.columns.get(input).cloned().unwrap_or_default();
                extend(&deps, &steps, true)
            })
            .collect();
        NodeLineage { columns, rows }
    }

    /// What `expr`'s value depends on, in context `ctx` (copy at the top of an output
    /// expression, inspect in a predicate or key).
    fn expr_deps(&mut self, expr: &Expr, scope: &Scope<'_>, ctx: EdgeKind) -> Deps {
        let mut out = Deps::new();
        self.expr_into(expr, scope, ctx, &mut out);
        out
    }

    fn expr_into(&mut self, expr: &Expr, scope: &Scope<'_>, ctx: EdgeKind, out: &mut Deps) {
        match expr {
            Expr::Alias(alias) => self.expr_into(&alias.expr, scope, ctx, out),
            Expr::Column(column) => match scope.resolve(column) {
                Some((deps, _)) => {
                    for (source, kind) in deps {
                        add(out, source.clone(), ctx.compose(*kind));
                    }
                }
                // Never seen in a checked plan; if it happens, depend on everything in
                // scope rather than on nothing.
                None => scope.everything_into(ctx.compose(EdgeKind::Transform), out),
            },
            Expr::OuterReferenceColumn(_, column) => {
                let found = self.outer.iter().rev().find_map(|(schemas, columns)| {
                    let scope = Scope {
                        schemas: schemas.iter().collect(),
                        columns: columns.iter().map(Vec::as_slice).collect(),
                    };
                    scope.resolve(column).map(|(d, _)| d.clone())
                });
                match found {
                    Some(deps) => {
                        for (source, kind) in deps {
                            add(out, source, ctx.compose(kind));
                        }
                    }
                    None => {
                        for (schemas, columns) in &self.outer {
                            let scope = Scope {
                                schemas: schemas.iter().collect(),
                                columns: columns.iter().map(Vec::as_slice).collect(),
                            };
                            scope.everything_into(ctx.compose(EdgeKind::Transform), out);
                        }
                    }
                }
            }
            Expr::ScalarFunction(f) if f.func.name() == "get_field" => {
                if let Some((column, names)) = field_access(expr)
                    && let Some((deps, ty)) = scope.resolve(column)
                {
                    // Struct fields are followed; a map lookup is a computation.
                    let mut steps = Vec::new();
                    let mut ty = ty;
                    let mut exact = true;
                    for name in names {
                        match ty {
                            DataType::Struct(fields) => match fields.find(name) {
                                Some((_, field)) => {
                                    steps.push(Step::Field(name.to_owned()));
                                    ty = field.data_type();
                                }
                                None => {
                                    exact = false;
                                    break;
                                }
                            },
                            _ => {
                                exact = false;
                                break;
                            }
                        }
                    }
                    for (source, kind) in extend(deps, &steps, exact) {
                        add(out, source, ctx.compose(kind));
                    }
                } else {
                    self.children_into(expr, scope, ctx.compose(EdgeKind::Transform), out);
                }
            }
            Expr::AggregateFunction(AggregateFunction {
                params:
                    AggregateFunctionParams {
                        args,
                        filter,
                        order_by,
                        ..
                    },
                ..
            }) => {
                let value = ctx.compose(EdgeKind::Transform);
                for arg in args {
                    self.expr_into(arg, scope, value, out);
                }
                if let Some(filter) = filter {
                    self.expr_into(filter, scope, EdgeKind::Inspect, out);
                }
                for sort in order_by {
                    self.expr_into(&sort.expr, scope, EdgeKind::Inspect, out);
                }
            }
            Expr::WindowFunction(window) => {
                let WindowFunction {
                    params:
                        WindowFunctionParams {
                            args,
                            partition_by,
                            order_by,
                            filter,
                            ..
                        },
                    ..
                } = window.as_ref();
                let value = ctx.compose(EdgeKind::Transform);
                for arg in args {
                    self.expr_into(arg, scope, value, out);
                }
                for e in partition_by.iter().chain(filter.as_deref()) {
                    self.expr_into(e, scope, EdgeKind::Inspect, out);
                }
                for sort in order_by {
                    self.expr_into(&sort.expr, scope, EdgeKind::Inspect, out);
                }
            }
            Expr::ScalarSubquery(subquery) => {
                let inner = self.subquery(&subquery.subquery, scope);
                let value = ctx.compose(EdgeKind::Transform);
                for deps in inner.columns {
                    for (source, kind) in deps {
                        add(out, source, value.compose(kind));
                    }
                }
                for source in inner.rows {
                    add(out, source, EdgeKind::Inspect);
                }
            }
            Expr::Exists(Exists { subquery, .. }) => {
                let value = ctx.compose(EdgeKind::Transform);
                self.subquery_read(&subquery.subquery, scope, value, out);
            }
            Expr::InSubquery(InSubquery { expr, subquery, .. })
            | Expr::SetComparison(SetComparison { expr, subquery, .. }) => {
                let value = ctx.compose(EdgeKind::Transform);
                self.expr_into(expr, scope, value, out);
                self.subquery_read(&subquery.subquery, scope, value, out);
            }
            Expr::Literal(..) | Expr::Placeholder(_) | Expr::ScalarVariable(..) => {}
            _ => self.children_into(expr, scope, ctx.compose(EdgeKind::Transform), out),
        }
    }

    fn children_into(&mut self, expr: &Expr, scope: &Scope<'_>, ctx: EdgeKind, out: &mut Deps) {
        let mut children = Vec::new();
        expr.apply_children(|child| {
            children.push(child.clone());
            Ok(rulec_compile::datafusion_common::tree_node::TreeNodeRecursion::Continue)
        })
        .ok();
        for child in &children {
            self.expr_into(child, scope, ctx, out);
        }
    }

    /// The lineage of a subquery plan, with `scope` visible to its outer references.
    fn subquery(&mut self, plan: &LogicalPlan, scope: &Scope<'_>) -> NodeLineage {
        self.outer.push((
            scope.schemas.iter().map(|s| (*s).clone()).collect(),
            scope.columns.iter().map(|c| c.to_vec()).collect(),
        ));
        let lineage = self.plan(plan);
        self.outer.pop();
        lineage
    }

    /// Everything a subquery reads (EXISTS, IN and quantified comparisons): its columns as
    /// `kind` (inspect in a predicate, transform where the truth value is output), its rows
    /// as inspect.
    fn subquery_read(
        &mut self,
        plan: &LogicalPlan,
        scope: &Scope<'_>,
        kind: EdgeKind,
        out: &mut Deps,
    ) {
        let inner = self.subquery(plan, scope);
        for deps in inner.columns {
            for source in deps.into_keys() {
                add(out, source, kind);
            }
        }
        for source in inner.rows {
            add(out, source, EdgeKind::Inspect);
        }
    }
}

/// `get_field(get_field(col, 'a'), 'b', 'c')` as `(col, [a, b, c])`.
fn field_access(expr: &Expr) -> Option<(&Column, Vec<&str>)> {
    match expr {
        Expr::Column(column) => Some((column, Vec::new())),
        Expr::ScalarFunction(f) if f.func.name() == "get_field" && f.args.len() >= 2 => {
            let (column, mut names) = field_access(&f.args[0])?;
            for arg in &f.args[1..] {
                match arg {
                    Expr::Literal(
                        ScalarValue::Utf8(Some(name))
                        | ScalarValue::LargeUtf8(Some(name))
                        | ScalarValue::Utf8View(Some(name)),
                        _,
                    ) => names.push(name.as_str()),
                    _ => return None,
                }
            }
            Some((column, names))
        }
        _ => None,
    }
}

/// The dependencies of a value nested `steps` below a column with dependencies `deps`:
/// copies follow the path; anything else stays on its source. When `exact` is false the
/// path could not be followed to the end, and the value is a transform.
fn extend(deps: &Deps, steps: &[Step], exact: bool) -> Deps {
    let mut out = Deps::new();
    for (source, kind) in deps {
        match kind {
            EdgeKind::Copy => {
                let kind = if exact {
                    EdgeKind::Copy
                } else {
                    EdgeKind::Transform
                };
                add(&mut out, source.nested(steps), kind);
            }
            other => add(&mut out, source.clone(), *other),
        }
    }
    out
}
