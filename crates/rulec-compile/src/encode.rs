//! The fingerprint encoding: a structural, alias-free rendering of a logical plan.
//!
//! Encoding v2 is an s-expression text, one plan node per parenthesised form, written from
//! the plan's structure alone (no `Debug` output, no pointers, no hash-map order):
//!
//! - **Columns are positions.** A column reference is `#i`, its index in the concatenated
//!   output schemas of the node's inputs (a join's left then right). Table aliases,
//!   subquery aliases, CTE names and the names of intermediate columns therefore never reach
//!   the encoding; `SubqueryAlias` nodes are transparent. A reference from a subquery to an
//!   enclosing query is `(outer d i)`, `d` scopes up. Only the plan's **output** columns are
//!   named (the product's schema is part of its meaning).
//! - **Aliases are dropped** from expressions (`Alias(e)` encodes as `e`).
//! - **Tables are named** by the name the rule reads (a contract or an upstream rule), with
//!   the source columns they read.
//! - **Literals** are `(lit <type> <value>)`; strings are quoted with `\` escapes; other values
//!   use the engine's value rendering, pinned with the engine version.
//! - **Types** use the contract grammar ([`render_type`]).
//! - **UNION ALL branches are a multiset**: their encodings are sorted.
//!
//! Every `Expr` and `LogicalPlan` variant is matched explicitly, so an engine upgrade that
//! adds one fails to compile here instead of silently encoding it some other way.

use datafusion_common::tree_node::TreeNode as _;
use datafusion_common::{Column, DFSchema, DFSchemaRef, ScalarValue, UnnestOptions};
use datafusion_expr::expr::{
    AggregateFunction, AggregateFunctionParams, Alias, Between, BinaryExpr, Case, Cast, Exists,
    GroupingSet, InList, InSubquery, Like, NullTreatment, Placeholder, SetComparison,
    SetQuantifier, Sort as SortExpr, TryCast, Unnest as UnnestExpr, WindowFunction,
    WindowFunctionParams,
};
use datafusion_expr::logical_plan::{
    Aggregate, Distinct, DistinctOn, EmptyRelation, Filter, Join, Limit, Partitioning, Projection,
    RecursiveQuery, Repartition, Sort, Subquery, SubqueryAlias, TableScan, Union, Unnest, Values,
    Window,
};
use datafusion_expr::{Expr, LogicalPlan, WindowFrame, WindowFrameBound, WindowFrameUnits};
use rulec_contract::render_type;
use std::fmt::Write as _;
use std::sync::Arc;

/// The version of the plan encoding (part of every fingerprint).
pub const ENCODING_VERSION: u32 = 2;

/// Encodes `plan`: its output columns (name, type, nullability), then its structure.
pub fn encode_plan_structure(plan: &LogicalPlan) -> String {
    let mut encoder = Encoder::default();
    for field in plan.schema().fields() {
        let _ = writeln!(
            encoder.out,
            "output {} {} {}",
            quoted(field.name()),
            render_type(field.data_type()),
            if field.is_nullable() {
                "null"
            } else {
                "not-null"
            }
        );
    }
    encoder.out.push_str("plan ");
    encoder.plan(plan);
    encoder.out.push('\n');
    encoder.out
}

/// Encodes one expression of a node whose inputs have the schemas `scope` (a join: left,
/// right). Two expressions of the same node encode alike exactly when they are the same
/// computation over the same input positions, whatever their aliases: this is the order key
/// of rulec's canonicalization rule.
pub fn encode_expr(expr: &Expr, scope: &[&DFSchemaRef]) -> String {
    let mut encoder = Encoder::default();
    encoder.expr(expr, scope);
    encoder.out
}

#[derive(Default)]
struct Encoder {
    out: String,
    /// The input schemas of the enclosing queries, innermost last (for outer references).
    outer: Vec<Vec<DFSchemaRef>>,
}

impl Encoder {
    fn open(&mut self, tag: &str) {
        self.out.push('(');
        self.out.push_str(tag);
    }

    fn close(&mut self) {
        self.out.push(')');
    }

    fn word(&mut self, word: &str) {
        self.out.push(' ');
        self.out.push_str(word);
    }

    fn plan(&mut self, plan: &LogicalPlan) {
        match plan {
            LogicalPlan::Projection(Projection { expr, input, .. }) => {
                self.open("project");
                self.exprs(expr, &[input.schema()]);
                self.child(input);
            }
            LogicalPlan::Filter(Filter {
                predicate, input, ..
            }) => {
                self.open("filter");
                self.out.push(' ');
                self.expr(predicate, &[input.schema()]);
                self.child(input);
            }
            LogicalPlan::Window(Window {
                input, window_expr, ..
            }) => {
                self.open("window");
                self.exprs(window_expr, &[input.schema()]);
                self.child(input);
            }
            LogicalPlan::Aggregate(Aggregate {
                input,
                group_expr,
                aggr_expr,
                ..
            }) => {
                self.open("aggregate");
                let scope = [input.schema()];
                self.out.push_str(" (group");
                self.exprs(group_expr, &scope);
                self.out.push_str(") (aggs");
                self.exprs(aggr_expr, &scope);
                self.out.push(')');
                self.child(input);
            }
            LogicalPlan::Sort(Sort { expr, input, fetch }) => {
                self.open("sort");
                self.sort_exprs(expr, &[input.schema()]);
                if let Some(fetch) = fetch {
                    self.word(&format!("fetch={fetch}"));
                }
                self.child(input);
            }
            LogicalPlan::Join(Join {
                left,
                right,
                on,
                filter,
                join_type,
                join_constraint: _, // ON and USING differ only in output columns, encoded above.
                schema: _,
                null_equality,
                null_aware,
            }) => {
                self.open("join");
                self.word(&join_type.to_string().to_lowercase());
                let scope = [left.schema(), right.schema()];
                self.out.push_str(" (on");
                for (l, r) in on {
                    self.out.push_str(" (");
                    self.expr(l, &scope);
                    self.out.push(' ');
                    self.expr(r, &scope);
                    self.out.push(')');
                }
                self.out.push(')');
                if let Some(filter) = filter {
                    self.out.push_str(" (where ");
                    self.expr(filter, &scope);
                    self.out.push(')');
                }
                if matches!(
                    null_equality,
                    datafusion_common::NullEquality::NullEqualsNull
                ) {
                    self.word("nulls-equal");
                }
                if *null_aware {
                    self.word("null-aware");
                }
                self.child(left);
                self.child(right);
            }
            LogicalPlan::Repartition(Repartition {
                input,
                partitioning_scheme,
            }) => {
                self.open("repartition");
                let scope = [input.schema()];
                match partitioning_scheme {
                    Partitioning::RoundRobinBatch(n) => self.word(&format!("round-robin {n}")),
                    Partitioning::Hash(exprs, n) => {
                        self.word(&format!("hash {n}"));
                        self.exprs(exprs, &scope);
                    }
                    Partitioning::Range(range) => {
                        self.word("range");
                        self.word(&quoted(&format!("{range:?}")));
                    }
                    Partitioning::DistributeBy(exprs) => {
                        self.word("distribute-by");
                        self.exprs(exprs, &scope);
                    }
                }
                self.child(input);
            }
            LogicalPlan::Union(Union { inputs, .. }) => {
                self.open("union-all");
                let mut branches: Vec<String> = inputs
                    .iter()
                    .map(|input| {
                        let mut branch = Encoder {
                            out: String::new(),
                            outer: self.outer.clone(),
                        };
                        branch.plan(input);
                        branch.out
                    })
                    .collect();
                branches.sort();
                for branch in branches {
                    self.out.push(' ');
                    self.out.push_str(&branch);
                }
            }
            LogicalPlan::TableScan(TableScan {
                table_name,
                source,
                projection,
                filters,
                fetch,
                ..
            }) => {
                self.open("scan");
                self.word(&quoted(&table_name.to_string()));
                let schema = source.schema();
                self.out.push_str(" (columns");
                let all: Vec<usize>;
                let indices = match projection {
                    Some(p) => p,
                    None => {
                        all = (0..schema.fields().len()).collect();
                        &all
                    }
                };
                for &i in indices {
                    let field = schema.field(i);
                    self.word(&quoted(field.name()));
                    self.word(&render_type(field.data_type()));
                }
                self.out.push(')');
                if !filters.is_empty()
                    && let Ok(source_schema) =
                        DFSchema::try_from_qualified_schema(table_name.clone(), &schema)
                {
                    self.out.push_str(" (filters");
                    let source_scope = [Arc::new(source_schema)];
                    let source_scope: Vec<&DFSchemaRef> = source_scope.iter().collect();
                    self.exprs(filters, &source_scope);
                    self.out.push(')');
                }
                if let Some(fetch) = fetch {
                    self.word(&format!("fetch={fetch}"));
                }
            }
            LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row, ..
            }) => {
                self.open("empty");
                self.word(if *produce_one_row {
                    "one-row"
                } else {
                    "no-rows"
                });
            }
            LogicalPlan::Subquery(Subquery { subquery, .. }) => {
                self.open("subquery");
                self.child(subquery);
            }
            LogicalPlan::SubqueryAlias(SubqueryAlias { input, .. }) => {
                // Transparent: an alias renames, it does not compute.
                self.plan(input);
                return;
            }
            LogicalPlan::Limit(Limit { skip, fetch, input }) => {
                self.open("limit");
                if let Some(skip) = skip {
                    self.out.push_str(" (skip ");
                    self.expr(skip, &[]);
                    self.out.push(')');
                }
                if let Some(fetch) = fetch {
                    self.out.push_str(" (fetch ");
                    self.expr(fetch, &[]);
                    self.out.push(')');
                }
                self.child(input);
            }
            LogicalPlan::Values(Values { values, .. }) => {
                self.open("values");
                for row in values {
                    self.out.push_str(" (row");
                    self.exprs(row, &[]);
                    self.out.push(')');
                }
            }
            LogicalPlan::Distinct(Distinct::All(input)) => {
                self.open("distinct");
                self.child(input);
            }
            LogicalPlan::Distinct(Distinct::On(DistinctOn {
                on_expr,
                select_expr,
                sort_expr,
                input,
                ..
            })) => {
                self.open("distinct-on");
                let scope = [input.schema()];
                self.out.push_str(" (on");
                self.exprs(on_expr, &scope);
                self.out.push_str(") (select");
                self.exprs(select_expr, &scope);
                self.out.push(')');
                if let Some(sort) = sort_expr {
                    self.out.push_str(" (order");
                    self.sort_exprs(sort, &scope);
                    self.out.push(')');
                }
                self.child(input);
            }
            LogicalPlan::Unnest(Unnest {
                input,
                exec_columns,
                list_type_columns,
                struct_type_columns,
                dependency_indices,
                options,
                ..
            }) => {
                self.open("unnest");
                let scope = [input.schema()];
                self.out.push_str(" (columns");
                for column in exec_columns {
                    self.out.push(' ');
                    self.column(column, &scope);
                }
                self.out.push_str(") (lists");
                for (index, list) in list_type_columns {
                    self.word(&format!("{index}:{}", list.depth));
                }
                self.out.push_str(") (structs");
                for index in struct_type_columns {
                    self.word(&index.to_string());
                }
                self.out.push_str(") (depends");
                for index in dependency_indices {
                    self.word(&index.to_string());
                }
                self.out.push(')');
                self.unnest_options(options, &scope);
                self.child(input);
            }
            LogicalPlan::RecursiveQuery(RecursiveQuery {
                name,
                static_term,
                recursive_term,
                is_distinct,
                ..
            }) => {
                self.open("recursive");
                self.word(&quoted(name));
                if *is_distinct {
                    self.word("distinct");
                }
                self.child(static_term);
                self.child(recursive_term);
            }
            LogicalPlan::Extension(extension) => {
                // rulec's canonical plans hold no extension nodes (the Unnest extension exists
                // only on the way to Substrait); an extension is encoded by name and inputs.
                self.open("extension");
                self.word(&quoted(extension.node.name()));
                for input in extension.node.inputs() {
                    self.child(input);
                }
            }
            LogicalPlan::Statement(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Ddl(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::DescribeTable(_) => {
                // Rules are queries (rulec-syntax refuses everything else); never reached
                // for a compiled rule, encoded by kind for completeness.
                self.open("statement");
                self.word(&quoted(&plan.display().to_string()));
            }
        }
        self.close();
    }

    fn child(&mut self, plan: &LogicalPlan) {
        self.out.push(' ');
        self.plan(plan);
    }

    fn unnest_options(&mut self, options: &UnnestOptions, scope: &[&DFSchemaRef]) {
        self.word(match options.null_handling {
            datafusion_common::NullHandling::Drop => "drop-nulls",
            datafusion_common::NullHandling::Preserve => "preserve-nulls",
            datafusion_common::NullHandling::PreserveAndExpandEmpty => "preserve-nulls-and-empty",
        });
        for recursion in &options.recursions {
            self.out.push_str(" (recursion ");
            self.column(&recursion.input_column, scope);
            self.word(&recursion.depth.to_string());
            self.out.push(')');
        }
    }

    fn exprs(&mut self, exprs: &[Expr], scope: &[&DFSchemaRef]) {
        for expr in exprs {
            self.out.push(' ');
            self.expr(expr, scope);
        }
    }

    fn sort_exprs(&mut self, sorts: &[SortExpr], scope: &[&DFSchemaRef]) {
        for sort in sorts {
            self.out
                .push_str(if sort.asc { " (asc " } else { " (desc " });
            self.expr(&sort.expr, scope);
            self.word(if sort.nulls_first {
                "nulls-first"
            } else {
                "nulls-last"
            });
            self.out.push(')');
        }
    }

    fn column(&mut self, column: &Column, scope: &[&DFSchemaRef]) {
        match column_index(scope, column) {
            Some(index) => {
                let _ = write!(self.out, "#{index}");
            }
            // Not resolvable against the inputs (never seen in a checked plan): the
            // unqualified name is the best stable identity left.
            None => {
                let _ = write!(self.out, "(column {})", quoted(&column.name));
            }
        }
    }

    fn subquery(&mut self, subquery: &Subquery, scope: &[&DFSchemaRef]) {
        self.outer
            .push(scope.iter().map(|s| Arc::clone(s)).collect());
        self.plan(&subquery.subquery);
        self.outer.pop();
    }

    fn expr(&mut self, expr: &Expr, scope: &[&DFSchemaRef]) {
        #[allow(deprecated)] // Expr::Wildcard is matched so that the match stays exhaustive.
        match expr {
            Expr::Alias(Alias { expr, .. }) => self.expr(expr, scope),
            Expr::Column(column) => self.column(column, scope),
            Expr::ScalarVariable(field, names) => {
                self.open("variable");
                self.word(&render_type(field.data_type()));
                for name in names {
                    self.word(&quoted(name));
                }
                self.close();
            }
            Expr::Literal(value, _metadata) => self.literal(value),
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                self.open(&op.to_string());
                self.out.push(' ');
                self.expr(left, scope);
                self.out.push(' ');
                self.expr(right, scope);
                self.close();
            }
            Expr::Like(like) => self.like(
                if like.case_insensitive {
                    "ilike"
                } else {
                    "like"
                },
                like,
                scope,
            ),
            Expr::SimilarTo(like) => self.like("similar-to", like, scope),
            Expr::Not(e) => self.unary("not", e, scope),
            Expr::IsNotNull(e) => self.unary("is-not-null", e, scope),
            Expr::IsNull(e) => self.unary("is-null", e, scope),
            Expr::IsTrue(e) => self.unary("is-true", e, scope),
            Expr::IsFalse(e) => self.unary("is-false", e, scope),
            Expr::IsUnknown(e) => self.unary("is-unknown", e, scope),
            Expr::IsNotTrue(e) => self.unary("is-not-true", e, scope),
            Expr::IsNotFalse(e) => self.unary("is-not-false", e, scope),
            Expr::IsNotUnknown(e) => self.unary("is-not-unknown", e, scope),
            Expr::Negative(e) => self.unary("negative", e, scope),
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) => {
                self.open(if *negated { "not-between" } else { "between" });
                self.out.push(' ');
                self.expr(expr, scope);
                self.out.push(' ');
                self.expr(low, scope);
                self.out.push(' ');
                self.expr(high, scope);
                self.close();
            }
            Expr::Case(Case {
                expr,
                when_then_expr,
                else_expr,
            }) => {
                self.open("case");
                if let Some(base) = expr {
                    self.out.push_str(" (base ");
                    self.expr(base, scope);
                    self.out.push(')');
                }
                for (when, then) in when_then_expr {
                    self.out.push_str(" (when ");
                    self.expr(when, scope);
                    self.out.push(' ');
                    self.expr(then, scope);
                    self.out.push(')');
                }
                if let Some(otherwise) = else_expr {
                    self.out.push_str(" (else ");
                    self.expr(otherwise, scope);
                    self.out.push(')');
                }
                self.close();
            }
            Expr::Cast(Cast { expr, field }) => {
                self.open("cast");
                self.word(&render_type(field.data_type()));
                self.out.push(' ');
                self.expr(expr, scope);
                self.close();
            }
            Expr::TryCast(TryCast { expr, field }) => {
                self.open("try-cast");
                self.word(&render_type(field.data_type()));
                self.out.push(' ');
                self.expr(expr, scope);
                self.close();
            }
            Expr::ScalarFunction(function) => {
                self.open("call");
                self.word(&quoted(function.name()));
                self.exprs(&function.args, scope);
                self.close();
            }
            Expr::AggregateFunction(AggregateFunction {
                func,
                params:
                    AggregateFunctionParams {
                        args,
                        distinct,
                        filter,
                        order_by,
                        null_treatment,
                    },
            }) => {
                self.open("aggregate");
                self.word(&quoted(func.name()));
                if *distinct {
                    self.word("distinct");
                }
                self.exprs(args, scope);
                self.filter_order_nulls(filter.as_deref(), order_by, *null_treatment, scope);
                self.close();
            }
            Expr::WindowFunction(window) => {
                let WindowFunction {
                    fun,
                    params:
                        WindowFunctionParams {
                            args,
                            partition_by,
                            order_by,
                            window_frame,
                            filter,
                            null_treatment,
                            distinct,
                        },
                } = window.as_ref();
                self.open("window");
                self.word(&quoted(fun.name()));
                if *distinct {
                    self.word("distinct");
                }
                self.exprs(args, scope);
                self.out.push_str(" (partition");
                self.exprs(partition_by, scope);
                self.out.push(')');
                self.window_frame(window_frame);
                self.filter_order_nulls(filter.as_deref(), order_by, *null_treatment, scope);
                self.close();
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) => {
                self.open(if *negated { "not-in" } else { "in" });
                self.out.push(' ');
                self.expr(expr, scope);
                self.out.push_str(" (list");
                self.exprs(list, scope);
                self.out.push(')');
                self.close();
            }
            Expr::Exists(Exists { subquery, negated }) => {
                self.open(if *negated { "not-exists" } else { "exists" });
                self.out.push(' ');
                self.subquery(subquery, scope);
                self.close();
            }
            Expr::InSubquery(InSubquery {
                expr,
                subquery,
                negated,
            }) => {
                self.open(if *negated {
                    "not-in-subquery"
                } else {
                    "in-subquery"
                });
                self.out.push(' ');
                self.expr(expr, scope);
                self.out.push(' ');
                self.subquery(subquery, scope);
                self.close();
            }
            Expr::SetComparison(SetComparison {
                expr,
                subquery,
                op,
                quantifier,
            }) => {
                self.open(match quantifier {
                    SetQuantifier::Any => "any",
                    SetQuantifier::All => "all",
                });
                self.word(&op.to_string());
                self.out.push(' ');
                self.expr(expr, scope);
                self.out.push(' ');
                self.subquery(subquery, scope);
                self.close();
            }
            Expr::ScalarSubquery(subquery) => {
                self.open("scalar-subquery");
                self.out.push(' ');
                self.subquery(subquery, scope);
                self.close();
            }
            Expr::Wildcard { qualifier, .. } => {
                self.open("wildcard");
                if let Some(qualifier) = qualifier {
                    self.word(&quoted(&qualifier.to_string()));
                }
                self.close();
            }
            Expr::GroupingSet(set) => match set {
                GroupingSet::Rollup(exprs) => {
                    self.open("rollup");
                    self.exprs(exprs, scope);
                    self.close();
                }
                GroupingSet::Cube(exprs) => {
                    self.open("cube");
                    self.exprs(exprs, scope);
                    self.close();
                }
                GroupingSet::GroupingSets(sets) => {
                    self.open("grouping-sets");
                    for set in sets {
                        self.out.push_str(" (set");
                        self.exprs(set, scope);
                        self.out.push(')');
                    }
                    self.close();
                }
            },
            Expr::Placeholder(Placeholder { id, .. }) => {
                self.open("placeholder");
                self.word(&quoted(id));
                self.close();
            }
            Expr::OuterReferenceColumn(_, column) => {
                let found = self.outer.iter().rev().enumerate().find_map(|(up, scope)| {
                    column_index(&scope.iter().collect::<Vec<_>>(), column).map(|index| (up, index))
                });
                match found {
                    Some((up, index)) => {
                        let _ = write!(self.out, "(outer {up} {index})");
                    }
                    None => {
                        let _ = write!(self.out, "(outer {})", quoted(&column.name));
                    }
                }
            }
            Expr::Unnest(UnnestExpr { expr, outer }) => {
                self.open(if *outer { "unnest-outer" } else { "unnest" });
                self.out.push(' ');
                self.expr(expr, scope);
                self.close();
            }
            Expr::HigherOrderFunction(function) => {
                self.open("call");
                self.word(&quoted(function.func.name()));
                self.exprs(&function.args, scope);
                self.close();
            }
            Expr::Lambda(lambda) => {
                self.open("lambda");
                for param in &lambda.params {
                    self.word(&quoted(param));
                }
                self.out.push(' ');
                self.expr(&lambda.body, scope);
                self.close();
            }
            Expr::LambdaVariable(variable) => {
                self.open("lambda-variable");
                self.word(&quoted(&variable.name));
                self.close();
            }
        }
    }

    fn unary(&mut self, tag: &str, expr: &Expr, scope: &[&DFSchemaRef]) {
        self.open(tag);
        self.out.push(' ');
        self.expr(expr, scope);
        self.close();
    }

    fn like(&mut self, tag: &str, like: &Like, scope: &[&DFSchemaRef]) {
        self.open(tag);
        if like.negated {
            self.word("not");
        }
        self.out.push(' ');
        self.expr(&like.expr, scope);
        self.out.push(' ');
        self.expr(&like.pattern, scope);
        if let Some(escape) = like.escape_char {
            self.word(&quoted(&escape.to_string()));
        }
        self.close();
    }

    fn filter_order_nulls(
        &mut self,
        filter: Option<&Expr>,
        order_by: &[SortExpr],
        null_treatment: Option<NullTreatment>,
        scope: &[&DFSchemaRef],
    ) {
        if let Some(filter) = filter {
            self.out.push_str(" (filter ");
            self.expr(filter, scope);
            self.out.push(')');
        }
        if !order_by.is_empty() {
            self.out.push_str(" (order");
            self.sort_exprs(order_by, scope);
            self.out.push(')');
        }
        match null_treatment {
            Some(NullTreatment::IgnoreNulls) => self.word("ignore-nulls"),
            Some(NullTreatment::RespectNulls) => self.word("respect-nulls"),
            None => {}
        }
    }

    fn window_frame(&mut self, frame: &WindowFrame) {
        self.out.push_str(" (frame ");
        self.out.push_str(match frame.units {
            WindowFrameUnits::Rows => "rows",
            WindowFrameUnits::Range => "range",
            WindowFrameUnits::Groups => "groups",
        });
        for bound in [&frame.start_bound, &frame.end_bound] {
            match bound {
                WindowFrameBound::Preceding(value) => {
                    self.out.push_str(" (preceding ");
                    self.literal(value);
                    self.out.push(')');
                }
                WindowFrameBound::CurrentRow => self.word("current-row"),
                WindowFrameBound::Following(value) => {
                    self.out.push_str(" (following ");
                    self.literal(value);
                    self.out.push(')');
                }
            }
        }
        self.out.push(')');
    }

    fn literal(&mut self, value: &ScalarValue) {
        let ty = render_type(&value.data_type());
        if value.is_null() {
            let _ = write!(self.out, "(null {ty})");
            return;
        }
        let rendered = match value {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => quoted(s),
            other => quoted(&other.to_string()),
        };
        let _ = write!(self.out, "(lit {ty} {rendered})");
    }
}

/// The index of `column` in the concatenation of `scope`'s schemas.
fn column_index(scope: &[&DFSchemaRef], column: &Column) -> Option<usize> {
    let mut offset = 0;
    for schema in scope {
        if let Some(index) = schema.maybe_index_of_column(column) {
            return Some(offset + index);
        }
        offset += schema.fields().len();
    }
    None
}

/// `"text"` with `\` and `"` escaped, so no value can imitate the encoding's structure.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether `expr` holds a volatile function (whose copies are not interchangeable).
pub(crate) fn is_volatile(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::ScalarFunction(f) if f.func.signature().volatility == datafusion_expr::Volatility::Volatile)))
        .unwrap_or(true)
}
