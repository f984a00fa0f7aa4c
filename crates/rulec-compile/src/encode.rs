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
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

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

/// What a computed value key stands for: the expression's text over its operands' keys.
/// Only row-wise, deterministic expressions get one (no subqueries, aggregates, windows,
/// outer references or volatile functions): their keys can be recomputed over other
/// operands (see [`Encoder::retag`]).
#[derive(Clone)]
struct Def {
    template: String,
    /// The operand keys that occur in `template`.
    operands: Vec<String>,
    /// Whether the expression is NULL whenever one of its operands is (`get_field`,
    /// arithmetic, comparisons, casts): such a value computed on a side an outer join pads
    /// with NULLs is the value computed after the join.
    strict: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// How a binary join is written: in fingerprint mode a right join as the left join with
/// its sides swapped, and the sides of a full join in the order of their encodings (inner
/// joins and chains of semi and anti joins have encodings of their own, see
/// [`Encoder::inner_joins`] and [`Encoder::semi_chain`]). The side written first is tagged
/// `a` (inner, full) or `p` (the preserved side of an outer, semi, anti or mark join), the
/// other `b` or `n`.
struct JoinShape {
    name: &'static str,
    /// Whether the right input is written first.
    swapped: bool,
    /// Whether the rows of the side written first, and of the other side, reach the
    /// output unchanged (not padded with NULLs).
    kept: (bool, bool),
    tags: (&'static str, &'static str),
}

impl JoinShape {
    fn of(join_type: JoinType, left: &str, right: &str, normalize: bool) -> Self {
        let by_text = normalize && right < left;
        let (name, swapped, kept, tags) = match join_type {
            JoinType::Inner => ("inner", by_text, (true, true), ("a", "b")),
            JoinType::Full => ("full", by_text, (false, false), ("a", "b")),
            JoinType::Left => ("left", false, (true, false), ("p", "n")),
            JoinType::Right => ("left", normalize, (true, false), ("p", "n")),
            JoinType::LeftSemi => ("semi", false, (true, true), ("p", "n")),
            JoinType::RightSemi => ("semi", normalize, (true, true), ("p", "n")),
            JoinType::LeftAnti => ("anti", false, (true, true), ("p", "n")),
            JoinType::RightAnti => ("anti", normalize, (true, true), ("p", "n")),
            JoinType::LeftMark => ("mark", false, (true, true), ("p", "n")),
            JoinType::RightMark => ("mark", normalize, (true, true), ("p", "n")),
        };
        // Positional mode keeps the engine's own names (the order keys of rulec's rule).
        let name = if normalize {
            name
        } else {
            match join_type {
                JoinType::Right => "right",
                JoinType::RightSemi => "rightsemi",
                JoinType::RightAnti => "rightanti",
                JoinType::RightMark => "rightmark",
                _ => name,
            }
        };
        JoinShape {
            name,
            swapped,
            kept,
            tags,
        }
    }

    /// The tag of one input side, and whether its rows reach the output unchanged.
    fn tag(&self, side: Side) -> (&'static str, bool) {
        let first = (side == Side::Left) != self.swapped;
        if first {
            (self.tags.0, self.kept.0)
        } else {
            (self.tags.1, self.kept.1)
        }
    }
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

    /// A tree of inner joins (through transparent projections and aliases) as one n-ary
    /// join: its inputs in the order of their encodings, each tagged by its place in that
    /// order, and its conditions (equi-join pairs, filter conjuncts) as a sorted set. So
    /// the order in which the author joined the tables, and where each condition was
    /// written, do not count.
    fn inner_joins(&mut self, top: &LogicalPlan) -> Vec<String> {
        let mut leaves: Vec<&LogicalPlan> = Vec::new();
        let tree = JoinTree::of(top, &mut leaves);
        let encoded: Vec<(String, Vec<String>)> =
            leaves.iter().map(|leaf| self.encoded(leaf)).collect();
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by(|a, b| encoded[*a].0.cmp(&encoded[*b].0));
        // Inputs with the same encoding (a self-join) may take each other's places: every
        // such assignment of places is tried (up to `MAX_SYMMETRIES`) and the smallest
        // encoding kept, so which copy the author wrote first does not count either.
        let mut best: Option<(String, Vec<String>, Vec<String>)> = None;
        for candidate in symmetric_orders(&order, |i| encoded[i].0.as_str()) {
            let mut tagged: Vec<Vec<String>> = vec![Vec::new(); encoded.len()];
            for (rank, &leaf) in candidate.iter().enumerate() {
                let tag = format!("inner-{rank}");
                tagged[leaf] = encoded[leaf]
                    .1
                    .iter()
                    .map(|k| self.retag(&tag, k))
                    .collect();
            }
            let mut conditions: Vec<String> = Vec::new();
            let keys = self.join_tree_keys(&tree, &tagged, &mut conditions);
            conditions.sort();
            conditions.dedup();
            let score = format!("{} | {}", conditions.join(" "), keys.join(" "));
            if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
                best = Some((score, conditions, keys));
            }
        }
        let (_, conditions, keys) = best.expect("at least the sorted order");
        self.open("inner-join");
        for &leaf in &order {
            self.word(&encoded[leaf].0);
        }
        for condition in &conditions {
            self.word(condition);
        }
        self.close();
        keys
    }

    /// The keys of a join tree node; the conditions of its joins go to `conditions`.
    fn join_tree_keys(
        &mut self,
        tree: &JoinTree<'_>,
        leaves: &[Vec<String>],
        conditions: &mut Vec<String>,
    ) -> Vec<String> {
        match tree {
            JoinTree::Leaf(i) => leaves[*i].clone(),
            JoinTree::Project(projection, input) => {
                let input_keys = self.join_tree_keys(input, leaves, conditions);
                let scope = Scope::of(projection.input.schema(), input_keys);
                projection
                    .expr
                    .iter()
                    .map(|e| self.value(e, &scope))
                    .collect()
            }
            JoinTree::Join(join, left, right) => {
                let left_keys = self.join_tree_keys(left, leaves, conditions);
                let right_keys = self.join_tree_keys(right, leaves, conditions);
                let scope = Scope {
                    schemas: vec![
                        Arc::clone(join.left.schema()),
                        Arc::clone(join.right.schema()),
                    ],
                    keys: left_keys.iter().chain(&right_keys).cloned().collect(),
                };
                let nulls = if matches!(
                    join.null_equality,
                    datafusion_common::NullEquality::NullEqualsNull
                ) {
                    " nulls-equal"
                } else {
                    ""
                };
                let mut keys = scope.keys.clone();
                for (l, r) in &join.on {
                    let (lt, rt) = (self.expr_text(l, &scope), self.expr_text(r, &scope));
                    let (a, b) = if rt < lt { (&rt, &lt) } else { (&lt, &rt) };
                    conditions.push(format!("(on {a} {b}{nulls})"));
                    // Past the join, the two columns of a key pair hold one value (for types
                    // whose equality is identity): one key.
                    if let (Expr::Column(lc), Expr::Column(rc)) = (l, r)
                        && let (Ok((_, lf)), Ok((_, rf))) = (
                            join.left.schema().qualified_field_from_column(lc),
                            join.right.schema().qualified_field_from_column(rc),
                        )
                        && lf.data_type() == rf.data_type()
                        && equality_is_identity(lf.data_type())
                    {
                        let (keep, drop) = (a.clone(), b.clone());
                        for k in &mut keys {
                            if *k == drop {
                                k.clone_from(&keep);
                            }
                        }
                    }
                }
                if let Some(filter) = &join.filter {
                    let mut conjuncts = Vec::new();
                    flatten(filter, &Operator::And, &mut conjuncts);
                    for conjunct in conjuncts {
                        let value = self.value(conjunct, &scope);
                        conditions.push(format!("(where {value})"));
                    }
                }
                keys
            }
        }
    }

    /// A chain of semi and anti joins over one input (through transparent projections and
    /// aliases): each filters that input's rows, so their order does not matter. Written as
    /// `(semi-chain <input> <filter>…)` with the filters sorted; the output keys are the
    /// input's.
    fn semi_chain(&mut self, top: &LogicalPlan) -> Vec<String> {
        let mut chain: Vec<&LogicalPlan> = Vec::new();
        let mut node = top;
        loop {
            match node {
                LogicalPlan::Join(join) if semi_or_anti(join.join_type) => {
                    chain.push(node);
                    node = if left_preserved(join.join_type) {
                        &join.left
                    } else {
                        &join.right
                    };
                }
                LogicalPlan::Projection(projection) if !projection.expr.iter().any(is_volatile) => {
                    chain.push(node);
                    node = &projection.input;
                }
                LogicalPlan::SubqueryAlias(alias) => node = &alias.input,
                _ => break,
            }
        }
        let (base, mut keys) = self.encoded(node);
        let mut filters: Vec<String> = Vec::new();
        for link in chain.iter().rev() {
            match link {
                LogicalPlan::Projection(projection) => {
                    let scope = Scope::of(projection.input.schema(), keys);
                    keys = projection
                        .expr
                        .iter()
                        .map(|e| self.value(e, &scope))
                        .collect();
                }
                LogicalPlan::Join(join) => filters.push(self.semi_filter(join, &keys)),
                _ => unreachable!("the chain holds joins and projections"),
            }
        }
        filters.sort();
        self.open("semi-chain");
        self.word(&base);
        for filter in &filters {
            self.word(filter);
        }
        self.close();
        keys
    }

    /// One semi or anti join of a chain, its preserved side's keys being `kept`.
    fn semi_filter(&mut self, join: &Join, kept: &[String]) -> String {
        let left = left_preserved(join.join_type);
        let other = if left { &join.right } else { &join.left };
        let (other_text, other_keys) = self.encoded(other);
        let kept: Vec<String> = kept.iter().map(|k| self.retag("p", k)).collect();
        let other_keys: Vec<String> = other_keys.iter().map(|k| self.retag("n", k)).collect();
        let keys = if left {
            kept.iter().chain(&other_keys).cloned().collect()
        } else {
            other_keys.iter().chain(&kept).cloned().collect()
        };
        let scope = Scope {
            schemas: vec![
                Arc::clone(join.left.schema()),
                Arc::clone(join.right.schema()),
            ],
            keys,
        };
        let saved = std::mem::take(&mut self.out);
        self.open(match join.join_type {
            JoinType::LeftSemi | JoinType::RightSemi => "semi",
            _ => "anti",
        });
        self.out.push_str(" (on");
        let mut pairs: Vec<String> = join
            .on
            .iter()
            .map(|(l, r)| {
                let (l, r) = (self.expr_text(l, &scope), self.expr_text(r, &scope));
                if r < l {
                    format!("({r} {l})")
                } else {
                    format!("({l} {r})")
                }
            })
            .collect();
        pairs.sort();
        for pair in pairs {
            self.word(&pair);
        }
        self.out.push(')');
        if let Some(filter) = &join.filter {
            self.out.push_str(" (where ");
            self.expr(filter, &scope);
            self.out.push(')');
        }
        if matches!(
            join.null_equality,
            datafusion_common::NullEquality::NullEqualsNull
        ) {
            self.word("nulls-equal");
        }
        if join.null_aware {
            self.word("null-aware");
        }
        self.word(&other_text);
        self.close();
        std::mem::replace(&mut self.out, saved)
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

    /// Writes an expression: in fingerprint mode its value key ([`Encoder::value`]), in
    /// positional mode its whole text.
    fn expr(&mut self, expr: &Expr, scope: &Scope) {
        if self.normalize {
            let value = self.value(expr, scope);
            self.out.push_str(&value);
        } else {
            self.node(expr, scope);
        }
    }

    /// The value key of an expression (fingerprint mode). A column is its input's key; an
    /// alias is what it names; anything else is `%` + a hash of its text, in which every
    /// operand is its own value key. So an expression has one key wherever it is computed:
    /// inline, or in a projection below and referenced by name, as a subquery's column or
    /// a CTE's; and `get_field(x, 'a', 'b')` is written as `get_field(get_field(x, 'a'), 'b')`,
    /// so a struct path reads the same whether its prefix was taken apart earlier or not.
    fn value(&mut self, expr: &Expr, scope: &Scope) -> String {
        match expr {
            Expr::Alias(Alias { expr, .. }) => return self.value(expr, scope),
            Expr::Column(column) => {
                let key = match scope.key(column) {
                    Some(key) => key.to_owned(),
                    None => format!("(column {})", quoted(&column.name)),
                };
                self.operands.push(key.clone());
                return key;
            }
            Expr::ScalarFunction(function)
                if function.name() == "get_field" && function.args.len() > 2 =>
            {
                let mut steps = function.args.iter();
                let mut path = steps.next().cloned().unwrap_or_else(lit_null);
                for step in steps {
                    path = Expr::ScalarFunction(datafusion_expr::expr::ScalarFunction::new_udf(
                        Arc::clone(&function.func),
                        vec![path, step.clone()],
                    ));
                }
                return self.value(&path, scope);
            }
            _ => {}
        }
        let saved_out = std::mem::take(&mut self.out);
        let saved_operands = std::mem::take(&mut self.operands);
        let saved_opaque = std::mem::replace(&mut self.opaque, false);
        self.node(expr, scope);
        let template = std::mem::replace(&mut self.out, saved_out);
        let operands = std::mem::replace(&mut self.operands, saved_operands);
        let opaque = self.opaque || is_opaque_node(expr);
        self.opaque = saved_opaque || opaque;
        let value = key(&["expr", &template]);
        if !opaque {
            let strict = is_strict_node(expr);
            self.defs.entry(value.clone()).or_insert(Def {
                template,
                operands,
                strict,
            });
        }
        self.operands.push(value.clone());
        value
    }

    /// The key of the value `value` seen through a join side tagged `tag`. A value computed
    /// row by row is recomputed over its operands seen through that side, so that computing
    /// it below the join or above it gives one key; any other value is tagged. Only for
    /// sides whose rows reach the join's output unchanged (not a null-padded side).
    fn retag(&mut self, tag: &str, value: &str) -> String {
        let memo = (tag.to_owned(), value.to_owned());
        if let Some(done) = self.retagged.get(&memo) {
            return done.clone();
        }
        let result = match self.defs.get(value).cloned() {
            Some(def) => self.recomputed(def, |encoder, operand| encoder.retag(tag, operand)),
            None => key(&[tag, value]),
        };
        self.retagged.insert(memo, result.clone());
        result
    }

    /// [`Encoder::retag`] for a side an outer join pads with NULLs: a value is recomputed
    /// over its tagged operands only when it is NULL on a padded row too (a strict
    /// expression over at least one such operand: `n.span.start.line0` taken apart before
    /// a left join is the same path read after it); constants stay constants; anything
    /// else (`coalesce`, `CASE`, `IS NULL`, aggregates) is tagged as a whole.
    fn retag_padded(&mut self, tag: &str, value: &str) -> String {
        let memo = (format!("padded {tag}"), value.to_owned());
        if let Some(done) = self.retagged.get(&memo) {
            return done.clone();
        }
        let result = match self.defs.get(value).cloned() {
            Some(def) if def.strict && def.operands.iter().any(|o| self.null_when_padded(o)) => {
                self.recomputed(def, |encoder, operand| {
                    if encoder.is_constant(operand) {
                        operand.to_owned()
                    } else {
                        encoder.retag_padded(tag, operand)
                    }
                })
            }
            _ => key(&[tag, value]),
        };
        self.retagged.insert(memo, result.clone());
        result
    }

    /// The key of `def` with each operand replaced by `seen(operand)`, its definition kept.
    fn recomputed(&mut self, def: Def, mut seen: impl FnMut(&mut Self, &str) -> String) -> String {
        let mut template = def.template;
        let mut operands = Vec::with_capacity(def.operands.len());
        for operand in &def.operands {
            let replacement = seen(self, operand);
            template = template.replace(operand.as_str(), &replacement);
            operands.push(replacement);
        }
        let value = key(&["expr", &template]);
        self.defs.entry(value.clone()).or_insert(Def {
            template,
            operands,
            strict: def.strict,
        });
        value
    }

    /// Whether a value is a constant: an expression without operands (a literal).
    fn is_constant(&self, value: &str) -> bool {
        self.defs.get(value).is_some_and(|d| d.operands.is_empty())
    }

    /// Whether a value is NULL on a row an outer join padded: an input column, or a strict
    /// expression over at least one such value.
    fn null_when_padded(&self, value: &str) -> bool {
        match self.defs.get(value) {
            None => true,
            Some(def) => def.strict && def.operands.iter().any(|o| self.null_when_padded(o)),
        }
    }

    /// Writes one expression node, its operands through [`Encoder::expr`].
    fn node(&mut self, expr: &Expr, scope: &Scope) {
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

/// The most assignments of places tried for inputs of an inner join with equal encodings.
const MAX_SYMMETRIES: usize = 24;

/// `order` (sorted by `text`) and, while there are at most [`MAX_SYMMETRIES`] of them, every
/// order that permutes runs of equal text; over the limit, `order` alone.
fn symmetric_orders<'t>(order: &[usize], text: impl Fn(usize) -> &'t str) -> Vec<Vec<usize>> {
    let mut orders = vec![order.to_vec()];
    let mut start = 0;
    while start < order.len() {
        let end = (start..order.len())
            .find(|&i| text(order[i]) != text(order[start]))
            .unwrap_or(order.len());
        if end - start > 1 {
            let mut next = Vec::new();
            for base in &orders {
                for permutation in permutations(&base[start..end]) {
                    let mut candidate = base.clone();
                    candidate[start..end].copy_from_slice(&permutation);
                    next.push(candidate);
                }
            }
            if next.len() > MAX_SYMMETRIES {
                return vec![order.to_vec()];
            }
            orders = next;
        }
        start = end;
    }
    orders
}

/// Every permutation of `items` (few: the caller caps the product).
fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for (i, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            out.push(tail);
            if out.len() > MAX_SYMMETRIES {
                return out;
            }
        }
    }
    out
}

/// A tree of inner joins, down to the inputs that are not inner joins (see
/// [`Encoder::inner_joins`]).
enum JoinTree<'a> {
    Leaf(usize),
    Project(&'a Projection, Box<JoinTree<'a>>),
    Join(&'a Join, Box<JoinTree<'a>>, Box<JoinTree<'a>>),
}

impl<'a> JoinTree<'a> {
    fn of(plan: &'a LogicalPlan, leaves: &mut Vec<&'a LogicalPlan>) -> Self {
        match plan {
            LogicalPlan::Join(join) if join.join_type == JoinType::Inner => JoinTree::Join(
                join,
                Box::new(JoinTree::of(&join.left, leaves)),
                Box::new(JoinTree::of(&join.right, leaves)),
            ),
            LogicalPlan::Projection(projection)
                if !projection.expr.iter().any(is_volatile) && is_inner_join(&projection.input) =>
            {
                JoinTree::Project(
                    projection,
                    Box::new(JoinTree::of(&projection.input, leaves)),
                )
            }
            LogicalPlan::SubqueryAlias(alias) if is_inner_join(&alias.input) => {
                JoinTree::of(&alias.input, leaves)
            }
            other => {
                leaves.push(other);
                JoinTree::Leaf(leaves.len() - 1)
            }
        }
    }
}

/// Whether `plan` is an inner join, seen through transparent projections and aliases.
fn is_inner_join(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Join(join) => join.join_type == JoinType::Inner,
        LogicalPlan::Projection(projection) => {
            !projection.expr.iter().any(is_volatile) && is_inner_join(&projection.input)
        }
        LogicalPlan::SubqueryAlias(alias) => is_inner_join(&alias.input),
        _ => false,
    }
}

fn semi_or_anti(join_type: JoinType) -> bool {
    matches!(
        join_type,
        JoinType::LeftSemi | JoinType::LeftAnti | JoinType::RightSemi | JoinType::RightAnti
    )
}

/// Whether a semi or anti join keeps its left input's rows.
fn left_preserved(join_type: JoinType) -> bool {
    matches!(join_type, JoinType::LeftSemi | JoinType::LeftAnti)
}

/// Whether two equal values of type `ty` are the same value (not so for floats: `-0.0 =
/// 0.0`).
fn equality_is_identity(ty: &arrow_schema::DataType) -> bool {
    use arrow_schema::DataType;
    ty.is_integer()
        || matches!(
            ty,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Date32
                | DataType::Date64
        )
}

/// Whether the node itself is NULL whenever one of its operands is.
fn is_strict_node(expr: &Expr) -> bool {
    match expr {
        Expr::BinaryExpr(BinaryExpr { op, .. }) => matches!(
            op,
            Operator::Plus
                | Operator::Minus
                | Operator::Multiply
                | Operator::Divide
                | Operator::Modulo
                | Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
        ),
        Expr::Cast(_) | Expr::TryCast(_) | Expr::Negative(_) | Expr::Not(_) | Expr::Like(_) => true,
        Expr::ScalarFunction(f) => {
            matches!(f.name(), "get_field" | "array_element" | "cardinality")
        }
        _ => false,
    }
}

/// A typed NULL, for a malformed `get_field` without arguments (never planned).
fn lit_null() -> Expr {
    Expr::Literal(ScalarValue::Null, None)
}

/// Whether the node itself (not its operands) is something other than a row-wise,
/// deterministic computation: its value key then gets no definition.
fn is_opaque_node(expr: &Expr) -> bool {
    #[allow(deprecated)]
    match expr {
        Expr::ScalarSubquery(_)
        | Expr::Exists(_)
        | Expr::InSubquery(_)
        | Expr::SetComparison(_)
        | Expr::AggregateFunction(_)
        | Expr::WindowFunction(_)
        | Expr::OuterReferenceColumn(..)
        | Expr::Unnest(_)
        | Expr::Placeholder(_)
        | Expr::ScalarVariable(..)
        | Expr::Wildcard { .. }
        | Expr::GroupingSet(_)
        | Expr::Lambda(_)
        | Expr::LambdaVariable(_)
        | Expr::HigherOrderFunction(_) => true,
        Expr::ScalarFunction(f) => {
            f.func.signature().volatility == datafusion_expr::Volatility::Volatile
        }
        _ => false,
    }
}

/// Whether `expr` holds a volatile function (whose copies are not interchangeable).
pub(crate) fn is_volatile(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::ScalarFunction(f) if f.func.signature().volatility == datafusion_expr::Volatility::Volatile)))
        .unwrap_or(true)
}
