//! The fingerprint encoding: a structural, alias-free, order-free rendering of a logical
//! plan.
//!
//! Encoding v4 is an s-expression text, one plan node per parenthesised form, written from
//! the plan's structure alone (no `Debug` output, no pointers, no hash-map order):
//!
//! - **Values are keys.** Every value a plan computes has a key, `%` and 16 hex digits of a
//!   SHA-256 over how it is made: a scanned column by its table, name and type; any other
//!   expression by its text, in which every operand is itself a key (a Merkle tree of the
//!   expression). Expressions are written as their keys, so a value has one key wherever
//!   it is computed: inline, or in a projection below and used by name through aliases,
//!   subqueries and CTEs. `get_field(x, 'a', 'b')` is the chain of one-step accesses, so a
//!   struct path is one key whether its prefix was taken apart earlier or not.
//! - **Projections are transparent** (unless they hold a volatile function): they compute
//!   values row by row, and the values' keys say how. Neither column order nor names
//!   (table aliases, subquery aliases, CTE names, intermediate names) reach the encoding;
//!   `SubqueryAlias` nodes are transparent too. A reference from a subquery to an
//!   enclosing query is `(outer d key)`, `d` scopes up.
//! - **Join sides are tagged**, so that the two sides of a self-join stay apart. On a side
//!   whose rows reach the output unchanged (both sides of an inner join, the preserved
//!   side of an outer join), a computed value is recomputed over its tagged operands, so
//!   computing it before the join or after it gives one key; on a NULL-padded side only a
//!   strict expression (NULL on a NULL operand) is recomputed, anything else is tagged as
//!   a whole. A tree of inner joins is one n-ary join (its inputs in the order of their
//!   encodings, inputs with equal encodings in the places that give the smallest
//!   encoding, its conditions a sorted set). A right join is written as the left join
//!   with its sides swapped, the sides of full joins in the order of their encodings, and
//!   semi and anti joins pass their side's keys as they are (they filter rows); a chain of
//!   them over one input is a sorted set of filters.
//! - **Positional nodes** (`UNION ALL`, `VALUES`, recursive queries) key their columns by
//!   position in that node.
//! - **Order that does not matter is sorted.** The window functions of a window, the
//!   grouping keys (outside grouping sets) and aggregates of an aggregate, the keys of an
//!   equi-join, the operands of `=`, `<>`, `+`, `*`, `&`, `|`, `^`, `IS [NOT] DISTINCT
//!   FROM`, flattened `AND`/`OR` chains and IN lists are written in sorted order; `a > b`
//!   is written as `b < a` when that sorts first. Sort keys, grouping
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

mod exprs;
mod joins;
mod values;

use crate::unnest::UnnestOutput;
use datafusion_common::tree_node::TreeNode as _;
use datafusion_common::{Column, DFSchema, DFSchemaRef, UnnestOptions};
use datafusion_expr::expr::BinaryExpr;
use datafusion_expr::logical_plan::{
    Aggregate, Distinct, DistinctOn, EmptyRelation, Filter, Join, JoinType, Limit, Partitioning,
    Projection, RecursiveQuery, Repartition, Sort, Subquery, SubqueryAlias, TableScan, Union,
    Unnest, Values, Window,
};
use datafusion_expr::{Expr, LogicalPlan, Operator};
use joins::{JoinShape, Side, semi_or_anti};
use rulec_contract::render_type;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use values::Def;

/// The version of the plan encoding (part of every fingerprint).
pub const ENCODING_VERSION: u32 = 4;

/// Encodes `plan`: its output columns (name, type, nullability, key), then its structure.
pub fn encode_plan_structure(plan: &LogicalPlan) -> String {
    encode_normalized(plan).0
}

/// [`encode_plan_structure`] followed by what each computed value key stands for
/// (`def %key = (expression over keys)`, sorted): the encoding made readable, for reviews
/// and test failures. The definitions are not hashed: every key is already a hash of its
/// definition.
pub fn explain_plan_structure(plan: &LogicalPlan) -> String {
    let (mut out, encoder) = encode_normalized(plan);
    let mut defs: Vec<(&String, &Def)> = encoder.defs.iter().collect();
    defs.sort_by(|a, b| a.0.cmp(b.0));
    for (key, def) in defs {
        let _ = writeln!(out, "def {key} = {}", def.template);
    }
    out
}

fn encode_normalized(plan: &LogicalPlan) -> (String, Encoder) {
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
    (out, encoder)
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
    /// Computed value keys and their definitions (fingerprint mode).
    defs: HashMap<String, Def>,
    /// `(tag, key)` to the key of the same value seen through a join side tagged `tag`.
    retagged: HashMap<(String, String), String>,
    /// The operand keys written by the expression being encoded.
    operands: Vec<String>,
    /// Whether the expression being encoded holds something that is not row-wise and
    /// deterministic.
    opaque: bool,
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

    /// The key of an output expression: a column passed through keeps its input's key. In
    /// fingerprint mode `text` is the expression's value key already.
    fn output_key(&self, expr: &Expr, text: &str, scope: &Scope) -> String {
        if self.normalize {
            return text.to_owned();
        }
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
        if self.normalize
            && let LogicalPlan::Join(join) = plan
        {
            if semi_or_anti(join.join_type) {
                return self.semi_chain(plan);
            }
            if join.join_type == JoinType::Inner {
                return self.inner_joins(plan);
            }
        }
        let keys = match plan {
            LogicalPlan::Projection(Projection { expr, input, .. }) => {
                let (child, keys) = self.encoded(input);
                let scope = Scope::of(input.schema(), keys);
                if self.normalize && !expr.iter().any(is_volatile) {
                    // Transparent: a projection computes values row by row, and its values'
                    // keys say how; which columns it keeps, in what order and under which
                    // names, reaches the encoding only through the plan's output columns.
                    let keys = expr.iter().map(|e| self.value(e, &scope)).collect();
                    self.out.push_str(&child);
                    return keys;
                }
                self.open("project");
                let texts = self.expr_set(expr, &scope);
                self.word(&child);
                expr.iter()
                    .zip(&texts)
                    .map(|(e, t)| self.output_key(e, t, &scope))
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
                            keys.push(self.output_key(e, &text, &scope));
                        }
                    }
                    keys.push(key(&["grouping-id", &group]));
                } else {
                    let texts = self.expr_set(group_expr, &scope);
                    keys.extend(
                        group_expr
                            .iter()
                            .zip(&texts)
                            .map(|(e, t)| self.output_key(e, t, &scope)),
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
                let shape = JoinShape::of(*join_type, &left_text, &right_text, self.normalize);
                // Each side's keys are tagged, so that the two sides of a self-join stay
                // apart; a side whose rows pass unchanged sees computed values recomputed
                // over its tagged operands (see `retag`).
                let mut tag = |side: Side, keys: &[String]| -> Vec<String> {
                    let (tag, kept) = shape.tag(side);
                    keys.iter()
                        .map(|k| match (self.normalize, kept) {
                            (true, true) => self.retag(tag, k),
                            (true, false) => self.retag_padded(tag, k),
                            (false, _) => key(&[tag, k]),
                        })
                        .collect()
                };
                let tagged_left = tag(Side::Left, &left_keys);
                let tagged_right = tag(Side::Right, &right_keys);
                let scope = Scope {
                    schemas: vec![Arc::clone(left.schema()), Arc::clone(right.schema())],
                    keys: tagged_left.iter().chain(&tagged_right).cloned().collect(),
                };
                self.open("join");
                self.word(shape.name);
                self.out.push_str(" (on");
                let mut pairs: Vec<String> = on
                    .iter()
                    .map(|(l, r)| {
                        let (l, r) = (self.expr_text(l, &scope), self.expr_text(r, &scope));
                        if self.normalize && r < l {
                            format!("({r} {l})")
                        } else {
                            format!("({l} {r})")
                        }
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
                let (first, second) = if shape.swapped {
                    (&right_text, &left_text)
                } else {
                    (&left_text, &right_text)
                };
                self.word(first);
                self.word(second);
                let mark = || key(&["mark", first, second]);
                match join_type {
                    JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                        scope.keys
                    }
                    // A semi or anti join filters one side's rows: its values pass as they are.
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
                let all: Vec<usize>;
                let indices = match projection {
                    Some(p) => p,
                    None => {
                        all = (0..schema.fields().len()).collect();
                        &all
                    }
                };
                // A scanned column's key names its table, column and type; which columns
                // are read is what the rest of the plan uses.
                let column_key = |name: &str| {
                    let ty = schema
                        .field_with_name(name)
                        .map(|f| render_type(f.data_type()))
                        .unwrap_or_default();
                    key(&["scan", &table, name, &ty])
                };
                if !self.normalize {
                    self.out.push_str(" (columns");
                    for &i in indices {
                        let field = schema.field(i);
                        self.word(&quoted(field.name()));
                        self.word(&render_type(field.data_type()));
                    }
                    self.out.push(')');
                }
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
                // The columns rows are compared on (projections are transparent).
                self.open("distinct");
                let mut columns = keys.clone();
                columns.sort();
                self.word(&format!("(cols {})", columns.join(" ")));
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
                    .map(|(e, t)| self.output_key(e, t, &scope))
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
