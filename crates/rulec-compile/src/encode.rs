//! The fingerprint encoding: a structural, alias-free, order-free rendering of a logical
//! plan.
//!
//! Encoding v3 is an s-expression text, one plan node per parenthesised form, written from
//! the plan's structure alone (no `Debug` output, no pointers, no hash-map order):
//!
//! - **Columns are value keys.** Every column a node outputs has a key, `%` and 16 hex
//!   digits of a SHA-256 over how the value is made: a scanned column by its table and
//!   name; a computed one by its expression, in which column references are themselves
//!   keys; a column passed through keeps its key; the two sides of a join are tagged so
//!   that a self-join's columns stay apart; the columns of a `UNION ALL`, `VALUES` and other
//!   positional nodes by their position in that node. A reference is the key, so neither
//!   column order nor names (table aliases, subquery aliases, CTE names, intermediate
//!   names) reach the encoding; `SubqueryAlias` nodes are transparent. A reference from a
//!   subquery to an enclosing query is `(outer d key)`, `d` scopes up.
//! - **Order that does not matter is sorted.** The expressions of a projection, the window
//!   functions of a window, the grouping keys (outside grouping sets) and aggregates of an
//!   aggregate, the keys of an equi-join, the operands of `=`, `<>`, `+`, `*`, `&`, `|`,
//!   `^`, `IS [NOT] DISTINCT FROM`, flattened `AND`/`OR` chains and IN lists are written in
//!   sorted order; `a > b` is written as `b < a` when that sorts first. Sort keys, grouping
//!   sets, function arguments and everything else positional keep their order.
//! - **Positions are explicit where they matter**: the plan's output columns are listed by
//!   name, type, nullability and key, in order; every `UNION ALL` branch and subquery lists
//!   its output keys in order.
//! - **Tables are named** by the name the rule reads (a contract or an upstream rule), with
//!   the source columns they read.
//! - **Literals** are `(lit <type> <value>)`; strings are quoted with `\` escapes; other values
//!   use the engine's value rendering, pinned with the engine version.
//! - **Types** use the contract grammar ([`render_type`]).
//! - **UNION ALL branches are a multiset**: their encodings are sorted.
//!
//! Every `Expr` and `LogicalPlan` variant is matched explicitly, so an engine upgrade that
//! adds one fails to compile here instead of silently encoding it some other way.
//!
//! [`encode_expr`] is the positional variant rulec's canonicalization rule orders operands
//! by: columns are input positions `#i` and nothing is re-sorted.

use crate::unnest::UnnestOutput;
use datafusion_common::tree_node::TreeNode as _;
use datafusion_common::{Column, DFSchema, DFSchemaRef, ScalarValue, UnnestOptions};
use datafusion_expr::expr::{
    AggregateFunction, AggregateFunctionParams, Alias, Between, BinaryExpr, Case, Cast, Exists,
    GroupingSet, InList, InSubquery, Like, NullTreatment, Placeholder, SetComparison,
    SetQuantifier, Sort as SortExpr, TryCast, Unnest as UnnestExpr, WindowFunction,
    WindowFunctionParams,
};
use datafusion_expr::logical_plan::{
    Aggregate, Distinct, DistinctOn, EmptyRelation, Filter, Join, JoinType, Limit, Partitioning,
    Projection, RecursiveQuery, Repartition, Sort, Subquery, SubqueryAlias, TableScan, Union,
    Unnest, Values, Window,
};
use datafusion_expr::{
    Expr, LogicalPlan, Operator, WindowFrame, WindowFrameBound, WindowFrameUnits,
};
use rulec_contract::render_type;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use std::sync::Arc;

/// The version of the plan encoding (part of every fingerprint).
pub const ENCODING_VERSION: u32 = 3;

/// Encodes `plan`: its output columns (name, type, nullability, key), then its structure.
pub fn encode_plan_structure(plan: &LogicalPlan) -> String {
    let mut encoder = Encoder {
        normalize: true,
        ..Encoder::default()
    };
    let (body, keys) = encoder.encoded(plan);
    let mut out = String::new();
    for (field, key) in plan.schema().fields().iter().zip(&keys) {
        let _ = writeln!(
            out,
            "output {} {} {} {key}",
            quoted(field.name()),
            render_type(field.data_type()),
            if field.is_nullable() {
                "null"
            } else {
                "not-null"
            }
        );
    }
    out.push_str("plan ");
    out.push_str(&body);
    out.push('\n');
    out
}

/// Encodes one expression of a node whose inputs have the schemas `scope` (a join: left,
/// right), with columns as input positions and nothing re-sorted. Two expressions of the
/// same node encode alike exactly when they are the same computation over the same input
/// positions, whatever their aliases: this is the order key of rulec's canonicalization
/// rule.
pub fn encode_expr(expr: &Expr, scope: &[&DFSchemaRef]) -> String {
    PositionalEncoder::new(scope).encode(expr)
}

/// [`encode_expr`] for many expressions of one node: the node's scope is built once.
pub struct PositionalEncoder {
    scope: Scope,
}

impl PositionalEncoder {
    pub fn new(scope: &[&DFSchemaRef]) -> Self {
        let width: usize = scope.iter().map(|s| s.fields().len()).sum();
        PositionalEncoder {
            scope: Scope {
                schemas: scope.iter().map(|s| Arc::clone(s)).collect(),
                keys: (0..width).map(|i| format!("#{i}")).collect(),
            },
        }
    }

    /// The positional encoding of `expr` (see [`encode_expr`]).
    pub fn encode(&self, expr: &Expr) -> String {
        let mut encoder = Encoder::default();
        encoder.expr(expr, &self.scope);
        encoder.out
    }
}

/// The inputs an expression sees: their schemas (to resolve a column) and the keys of
/// their columns, concatenated (a join: left, right).
#[derive(Clone, Default)]
struct Scope {
    schemas: Vec<DFSchemaRef>,
    keys: Vec<String>,
}

impl Scope {
    fn of(schema: &DFSchemaRef, keys: Vec<String>) -> Self {
        Scope {
            schemas: vec![Arc::clone(schema)],
            keys,
        }
    }

    fn key(&self, column: &Column) -> Option<&str> {
        column_index(&self.schemas, column).and_then(|i| self.keys.get(i).map(String::as_str))
    }
}

/// A value key: `%` and the first 16 hex digits of SHA-256 over `parts`.
fn key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(17);
    out.push('%');
    for byte in &digest[..8] {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Keys for the columns of a node whose columns are known only by position.
fn positional_keys(tag: &str, encoding: &str, width: usize) -> Vec<String> {
    let node = key(&[tag, encoding]);
    (0..width)
        .map(|i| key(&[tag, &node, &i.to_string()]))
        .collect()
}

#[derive(Default)]
struct Encoder {
    out: String,
    /// The inputs of the enclosing queries, innermost last (for outer references).
    outer: Vec<Scope>,
    /// Fingerprint mode: value keys and sorted commutative order. Off for [`encode_expr`].
    normalize: bool,
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

    /// Encodes `plan` on its own: its text and its output keys.
    fn encoded(&mut self, plan: &LogicalPlan) -> (String, Vec<String>) {
        let saved = std::mem::take(&mut self.out);
        let keys = self.plan(plan);
        let text = std::mem::replace(&mut self.out, saved);
        (text, keys)
    }

    /// Encodes an expression on its own.
    fn expr_text(&mut self, expr: &Expr, scope: &Scope) -> String {
        let saved = std::mem::take(&mut self.out);
        self.expr(expr, scope);
        std::mem::replace(&mut self.out, saved)
    }

    /// The key of an output expression: a column passed through keeps its input's key.
    fn output_key(expr: &Expr, text: &str, scope: &Scope) -> String {
        match expr.clone().unalias_nested().data {
            Expr::Column(column) => match scope.key(&column) {
                Some(k) => k.to_owned(),
                None => key(&["expr", text]),
            },
            _ => key(&["expr", text]),
        }
    }

    /// Writes ` (cols k...) body`: a child whose columns are used by position.
    fn positional(&mut self, text: &str, keys: &[String]) -> String {
        let mut out = String::from("(branch (cols");
        for k in keys {
            out.push(' ');
            out.push_str(k);
        }
        out.push_str(") ");
        out.push_str(text);
        out.push(')');
        out
    }

    /// Writes the expressions, sorted in fingerprint mode; returns their texts in order.
    fn expr_set(&mut self, exprs: &[Expr], scope: &Scope) -> Vec<String> {
        let texts: Vec<String> = exprs.iter().map(|e| self.expr_text(e, scope)).collect();
        let mut written = texts.clone();
        if self.normalize {
            written.sort();
        }
        for text in &written {
            self.out.push(' ');
            self.out.push_str(text);
        }
        texts
    }

    fn plan(&mut self, plan: &LogicalPlan) -> Vec<String> {
        let keys = match plan {
            LogicalPlan::Projection(Projection { expr, input, .. }) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                self.open("project");
                let texts = self.expr_set(expr, &scope);
                self.word(&child);
                expr.iter()
                    .zip(&texts)
                    .map(|(e, t)| Self::output_key(e, t, &scope))
                    .collect()
            }
            LogicalPlan::Filter(Filter {
                predicate, input, ..
            }) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                self.open("filter");
                self.out.push(' ');
                self.expr(predicate, &scope);
                self.word(&child);
                scope.keys
            }
            LogicalPlan::Window(Window {
                input, window_expr, ..
            }) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                self.open("window");
                let texts = self.expr_set(window_expr, &scope);
                self.word(&child);
                let mut keys = scope.keys.clone();
                keys.extend(texts.iter().map(|t| key(&["window", t])));
                keys
            }
            LogicalPlan::Aggregate(Aggregate {
                input,
                group_expr,
                aggr_expr,
                schema,
                ..
            }) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                self.open("aggregate");
                let mut keys = Vec::new();
                self.out.push_str(" (group");
                let grouping_sets = matches!(group_expr.as_slice(), [Expr::GroupingSet(_)]);
                if grouping_sets {
                    // The order of a grouping set's expressions is its grouping id's bits.
                    let group = self.expr_text(&group_expr[0], &scope);
                    self.word(&group);
                    if let Expr::GroupingSet(set) = &group_expr[0] {
                        for e in set.distinct_expr() {
                            let text = self.expr_text(e, &scope);
                            keys.push(Self::output_key(e, &text, &scope));
                        }
                    }
                    keys.push(key(&["grouping-id", &group]));
                } else {
                    let texts = self.expr_set(group_expr, &scope);
                    keys.extend(
                        group_expr
                            .iter()
                            .zip(&texts)
                            .map(|(e, t)| Self::output_key(e, t, &scope)),
                    );
                }
                self.out.push_str(") (aggs");
                let texts = self.expr_set(aggr_expr, &scope);
                keys.extend(texts.iter().map(|t| key(&["aggregate", t])));
                self.out.push(')');
                self.word(&child);
                debug_assert_eq!(keys.len(), schema.fields().len());
                keys
            }
            LogicalPlan::Sort(Sort { expr, input, fetch }) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                self.open("sort");
                self.sort_exprs(expr, &scope);
                if let Some(fetch) = fetch {
                    self.word(&format!("fetch={fetch}"));
                }
                self.word(&child);
                scope.keys
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
                let (left_text, left_keys) = self.encoded(left);
                let (right_text, right_keys) = self.encoded(right);
                // Tagged by side, so that the two sides of a self-join stay apart.
                let tag = |side: &str, keys: Vec<String>| -> Vec<String> {
                    keys.iter().map(|k| key(&[side, k])).collect()
                };
                let left_keys = tag("left", left_keys);
                let right_keys = tag("right", right_keys);
                let scope = Scope {
                    schemas: vec![Arc::clone(left.schema()), Arc::clone(right.schema())],
                    keys: left_keys.iter().chain(&right_keys).cloned().collect(),
                };
                self.open("join");
                self.word(&join_type.to_string().to_lowercase());
                self.out.push_str(" (on");
                let mut pairs: Vec<String> = on
                    .iter()
                    .map(|(l, r)| {
                        format!(
                            "({} {})",
                            self.expr_text(l, &scope),
                            self.expr_text(r, &scope)
                        )
                    })
                    .collect();
                if self.normalize {
                    pairs.sort();
                }
                for pair in pairs {
                    self.word(&pair);
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
                self.word(&left_text);
                self.word(&right_text);
                let mark = || key(&["mark", &left_text, &right_text]);
                match join_type {
                    JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                        scope.keys
                    }
                    JoinType::LeftSemi | JoinType::LeftAnti => left_keys,
                    JoinType::RightSemi | JoinType::RightAnti => right_keys,
                    JoinType::LeftMark => left_keys.into_iter().chain([mark()]).collect(),
                    JoinType::RightMark => right_keys.into_iter().chain([mark()]).collect(),
                }
            }
            LogicalPlan::Repartition(Repartition {
                input,
                partitioning_scheme,
            }) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                self.open("repartition");
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
                self.word(&child);
                scope.keys
            }
            LogicalPlan::Union(Union { inputs, schema }) => {
                self.open("union-all");
                let mut branches: Vec<String> = inputs
                    .iter()
                    .map(|input| {
                        let (text, keys) = self.encoded(input);
                        self.positional(&text, &keys)
                    })
                    .collect();
                branches.sort();
                let text = branches.join(" ");
                self.word(&text);
                positional_keys("union", &text, schema.fields().len())
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
                let table = table_name.to_string();
                self.word(&quoted(&table));
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
                let column_key = |name: &str| key(&["scan", &table, name]);
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
                    let scope = Scope::of(
                        &Arc::new(source_schema),
                        schema
                            .fields()
                            .iter()
                            .map(|f| column_key(f.name()))
                            .collect(),
                    );
                    self.expr_set(filters, &scope);
                    self.out.push(')');
                }
                if let Some(fetch) = fetch {
                    self.word(&format!("fetch={fetch}"));
                }
                indices
                    .iter()
                    .map(|&i| column_key(schema.field(i).name()))
                    .collect()
            }
            LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row,
                schema,
            }) => {
                self.open("empty");
                let rows = if *produce_one_row {
                    "one-row"
                } else {
                    "no-rows"
                };
                self.word(rows);
                let types: Vec<String> = schema
                    .fields()
                    .iter()
                    .map(|f| render_type(f.data_type()))
                    .collect();
                positional_keys("empty", &format!("{rows} {}", types.join(" ")), types.len())
            }
            LogicalPlan::Subquery(Subquery { subquery, .. }) => {
                let (child, keys) = self.encoded(subquery);
                self.open("subquery");
                self.word(&child);
                keys
            }
            LogicalPlan::SubqueryAlias(SubqueryAlias { input, .. }) => {
                // Transparent: an alias renames, it does not compute.
                return self.plan(input);
            }
            LogicalPlan::Limit(Limit { skip, fetch, input }) => {
                let (child, keys) = self.encoded(input);
                let none = Scope::default();
                self.open("limit");
                if let Some(skip) = skip {
                    self.out.push_str(" (skip ");
                    self.expr(skip, &none);
                    self.out.push(')');
                }
                if let Some(fetch) = fetch {
                    self.out.push_str(" (fetch ");
                    self.expr(fetch, &none);
                    self.out.push(')');
                }
                self.word(&child);
                keys
            }
            LogicalPlan::Values(Values { values, schema }) => {
                let start = self.out.len();
                self.open("values");
                let none = Scope::default();
                for row in values {
                    self.out.push_str(" (row");
                    self.exprs(row, &none);
                    self.out.push(')');
                }
                let text = self.out[start..].to_owned();
                positional_keys("values", &text, schema.fields().len())
            }
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let (child, keys) = self.encoded(input);
                self.open("distinct");
                self.word(&child);
                keys
            }
            LogicalPlan::Distinct(Distinct::On(DistinctOn {
                on_expr,
                select_expr,
                sort_expr,
                input,
                ..
            })) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                self.open("distinct-on");
                self.out.push_str(" (on");
                self.expr_set(on_expr, &scope);
                self.out.push_str(") (select");
                let texts = self.expr_set(select_expr, &scope);
                self.out.push(')');
                if let Some(sort) = sort_expr {
                    self.out.push_str(" (order");
                    self.sort_exprs(sort, &scope);
                    self.out.push(')');
                }
                self.word(&child);
                select_expr
                    .iter()
                    .zip(&texts)
                    .map(|(e, t)| Self::output_key(e, t, &scope))
                    .collect()
            }
            LogicalPlan::Unnest(
                unnest @ Unnest {
                    input,
                    list_type_columns,
                    struct_type_columns,
                    options,
                    ..
                },
            ) => {
                let (child, input_keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), input_keys.clone());
                let input_key = |i: usize| input_keys.get(i).cloned().unwrap_or_default();
                self.open("unnest");
                let mut lists: Vec<String> = list_type_columns
                    .iter()
                    .map(|(i, list)| format!("({} {})", input_key(*i), list.depth))
                    .collect();
                let mut structs: Vec<String> =
                    struct_type_columns.iter().map(|&i| input_key(i)).collect();
                if self.normalize {
                    lists.sort();
                    structs.sort();
                }
                self.out.push_str(" (lists");
                for l in &lists {
                    self.word(l);
                }
                self.out.push_str(") (structs");
                for s in &structs {
                    self.word(s);
                }
                self.out.push(')');
                self.unnest_options(options, &scope);
                self.word(&child);
                crate::unnest::unnest_outputs(unnest)
                    .into_iter()
                    .map(|output| match output {
                        UnnestOutput::List { input, depth } => {
                            key(&["unnest-list", &input_key(input), &depth.to_string()])
                        }
                        UnnestOutput::StructField { input, field } => {
                            key(&["unnest-struct", &input_key(input), &field.to_string()])
                        }
                        UnnestOutput::Passed { input } => input_key(input),
                    })
                    .collect()
            }
            LogicalPlan::RecursiveQuery(RecursiveQuery {
                name,
                static_term,
                recursive_term,
                is_distinct,
                ..
            }) => {
                let start = self.out.len();
                self.open("recursive");
                self.word(&quoted(name));
                if *is_distinct {
                    self.word("distinct");
                }
                for term in [static_term, recursive_term] {
                    let (text, keys) = self.encoded(term);
                    let branch = self.positional(&text, &keys);
                    self.word(&branch);
                }
                let text = self.out[start..].to_owned();
                positional_keys("recursive", &text, plan.schema().fields().len())
            }
            LogicalPlan::Extension(extension) => {
                // rulec's canonical plans hold no extension nodes (the Unnest extension exists
                // only on the way to Substrait); an extension is encoded by name and inputs.
                let start = self.out.len();
                self.open("extension");
                self.word(&quoted(extension.node.name()));
                for input in extension.node.inputs() {
                    let (text, keys) = self.encoded(input);
                    let branch = self.positional(&text, &keys);
                    self.word(&branch);
                }
                let text = self.out[start..].to_owned();
                positional_keys("extension", &text, plan.schema().fields().len())
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
                let text = plan.display().to_string();
                self.open("statement");
                self.word(&quoted(&text));
                positional_keys("statement", &text, plan.schema().fields().len())
            }
        };
        self.close();
        keys
    }

    fn unnest_options(&mut self, options: &UnnestOptions, scope: &Scope) {
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

    fn exprs(&mut self, exprs: &[Expr], scope: &Scope) {
        for expr in exprs {
            self.out.push(' ');
            self.expr(expr, scope);
        }
    }

    fn sort_exprs(&mut self, sorts: &[SortExpr], scope: &Scope) {
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

    fn column(&mut self, column: &Column, scope: &Scope) {
        match scope.key(column) {
            Some(key) => self.out.push_str(key),
            // Not resolvable against the inputs (never seen in a checked plan): the
            // unqualified name is the best stable identity left.
            None => {
                let _ = write!(self.out, "(column {})", quoted(&column.name));
            }
        }
    }

    /// A subquery, with `scope` visible to its outer references; its output keys are
    /// listed in order, since the enclosing expression uses them by position.
    fn subquery(&mut self, subquery: &Subquery, scope: &Scope) {
        self.outer.push(scope.clone());
        let (text, keys) = self.encoded(&subquery.subquery);
        self.outer.pop();
        let branch = if self.normalize {
            self.positional(&text, &keys)
        } else {
            text
        };
        self.out.push_str(&branch);
    }

    /// A binary expression. In fingerprint mode, operands of commutative operators are
    /// sorted, `AND`/`OR` chains flattened and sorted, and `>`/`>=` written as `<`/`<=`
    /// when that sorts first.
    fn binary(&mut self, left: &Expr, op: &Operator, right: &Expr, scope: &Scope) {
        if !self.normalize {
            self.open(&op.to_string());
            self.out.push(' ');
            self.expr(left, scope);
            self.out.push(' ');
            self.expr(right, scope);
            self.close();
            return;
        }
        if matches!(op, Operator::And | Operator::Or) {
            let mut operands = Vec::new();
            flatten(left, op, &mut operands);
            flatten(right, op, &mut operands);
            let mut texts: Vec<String> =
                operands.iter().map(|e| self.expr_text(e, scope)).collect();
            texts.sort();
            self.open(&op.to_string());
            for t in &texts {
                self.word(t);
            }
            self.close();
            return;
        }
        let l = self.expr_text(left, scope);
        let r = self.expr_text(right, scope);
        let commutative = matches!(
            op,
            Operator::Plus
                | Operator::Multiply
                | Operator::Eq
                | Operator::NotEq
                | Operator::BitwiseAnd
                | Operator::BitwiseOr
                | Operator::BitwiseXor
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom
        );
        let mirrored = match op {
            Operator::Gt => Some(Operator::Lt),
            Operator::GtEq => Some(Operator::LtEq),
            Operator::Lt => Some(Operator::Gt),
            Operator::LtEq => Some(Operator::GtEq),
            _ => None,
        };
        let as_written = format!("({op} {l} {r})");
        let text = if commutative && r < l {
            format!("({op} {r} {l})")
        } else if let Some(mirror) = mirrored {
            as_written.clone().min(format!("({mirror} {r} {l})"))
        } else {
            as_written
        };
        self.out.push_str(&text);
    }

    fn expr(&mut self, expr: &Expr, scope: &Scope) {
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
                self.binary(left, op, right, scope);
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
                self.expr_set(list, scope);
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
                let found = self
                    .outer
                    .iter()
                    .rev()
                    .enumerate()
                    .find_map(|(up, scope)| scope.key(column).map(|k| (up, k.to_owned())));
                match found {
                    Some((up, key)) => {
                        let _ = write!(self.out, "(outer {up} {key})");
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

    fn unary(&mut self, tag: &str, expr: &Expr, scope: &Scope) {
        self.open(tag);
        self.out.push(' ');
        self.expr(expr, scope);
        self.close();
    }

    fn like(&mut self, tag: &str, like: &Like, scope: &Scope) {
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
        scope: &Scope,
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
fn column_index(scope: &[DFSchemaRef], column: &Column) -> Option<usize> {
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

/// The operands of a chain of `op` (`a AND (b AND c)` → `a, b, c`), aliases removed.
fn flatten<'a>(expr: &'a Expr, op: &Operator, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: inner,
            right,
        }) if inner == op => {
            flatten(left, op, out);
            flatten(right, op, out);
        }
        Expr::Alias(alias) => flatten(&alias.expr, op, out),
        other => out.push(other),
    }
}

/// Whether `expr` holds a volatile function (whose copies are not interchangeable).
pub(crate) fn is_volatile(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::ScalarFunction(f) if f.func.signature().volatility == datafusion_expr::Volatility::Volatile)))
        .unwrap_or(true)
}
