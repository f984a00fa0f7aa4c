//! How joins are encoded: the tags of their sides, a tree of inner joins as one n-ary join
//! (inputs in encoding order, conditions a set), and a chain of semi and anti joins over
//! one input as a set of filters. See the module documentation of the encoding.

use super::{Encoder, Scope, flatten, is_volatile};
use datafusion_expr::logical_plan::{Join, JoinType, Projection};
use datafusion_expr::{Expr, LogicalPlan, Operator};
use std::sync::Arc;

impl Encoder {
    /// A tree of inner joins (through transparent projections and aliases) as one n-ary
    /// join: its inputs in the order of their encodings, each tagged by its place in that
    /// order, and its conditions (equi-join pairs, filter conjuncts) as a sorted set. So
    /// the order in which the author joined the tables, and where each condition was
    /// written, do not count.
    pub(super) fn inner_joins(&mut self, top: &LogicalPlan) -> Vec<String> {
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
    pub(super) fn semi_chain(&mut self, top: &LogicalPlan) -> Vec<String> {
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
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Left,
    Right,
}

/// How a binary join is written: in fingerprint mode a right join as the left join with
/// its sides swapped, and the sides of a full join in the order of their encodings (inner
/// joins and chains of semi and anti joins have encodings of their own, see
/// [`Encoder::inner_joins`] and [`Encoder::semi_chain`]). The side written first is tagged
/// `a` (inner, full) or `p` (the preserved side of an outer, semi, anti or mark join), the
/// other `b` or `n`.
pub(super) struct JoinShape {
    pub(super) name: &'static str,
    /// Whether the right input is written first.
    pub(super) swapped: bool,
    /// Whether the rows of the side written first, and of the other side, reach the
    /// output unchanged (not padded with NULLs).
    kept: (bool, bool),
    tags: (&'static str, &'static str),
}

impl JoinShape {
    pub(super) fn of(join_type: JoinType, left: &str, right: &str, normalize: bool) -> Self {
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
    pub(super) fn tag(&self, side: Side) -> (&'static str, bool) {
        let first = (side == Side::Left) != self.swapped;
        if first {
            (self.tags.0, self.kept.0)
        } else {
            (self.tags.1, self.kept.1)
        }
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

pub(super) fn semi_or_anti(join_type: JoinType) -> bool {
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
