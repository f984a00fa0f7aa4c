//! rulec's own canonicalization rule: what DataFusion's optimizer leaves author-dependent.
//!
//! `rulec_canonicalize` runs early in every optimizer pass (right after the simplifier),
//! bottom-up over every node and, through the optimizer, every subquery; the pipeline
//! repeats until a pass changes nothing, so canonical plans are fixed points of this rule.
//! It only reorders and deduplicates; it never changes what a plan computes:
//!
//! - **AND / OR** are flattened, their operands deduplicated and sorted (AND and OR are
//!   commutative, associative and idempotent in SQL's three-valued logic too).
//! - **Predicates** (filters and join conditions) are put in conjunctive normal form with
//!   absorption, *guarded*: each top-level conjunct is rewritten only when its CNF has at
//!   most [`CNF_MAX_CLAUSES`] clauses (and computing it stays under [`CNF_WORK_LIMIT`]);
//!   a larger one stays as written, flattened and sorted. Both guards are options of the
//!   pipeline, so they are in every fingerprint.
//! - **Commutative operators** (`=`, `<>`, `IS [NOT] DISTINCT FROM`, and `+`, `*`, bitwise
//!   `& | ^` over numbers) get their operands in order; **comparisons** `<`, `<=`, `>`,
//!   `>=` too, with the operator mirrored (`5 < x` becomes `x > 5`).
//! - **IN lists** are sorted, duplicates removed.
//! - **Equi-join keys** are sorted.
//!
//! The order is that of the structural encoding ([`crate::encode::encode_expr`]), which
//! sees columns as input positions: the order does not depend on aliases. Expressions with
//! volatile functions are left as written (their copies are not interchangeable).
//! Output names are preserved: a reordered projection keeps its column's name.

use crate::encode::{PositionalEncoder, is_volatile};
use datafusion_common::tree_node::{Transformed, TreeNode as _};
use datafusion_common::{DFSchema, Result};
use datafusion_expr::expr::{BinaryExpr, InList};
use datafusion_expr::expr_rewriter::NamePreserver;
use datafusion_expr::logical_plan::{Filter, Join};
use datafusion_expr::{Expr, ExprSchemable as _, LogicalPlan, Operator};
use datafusion_optimizer::optimizer::ApplyOrder;
use datafusion_optimizer::{OptimizerConfig, OptimizerRule};
use std::sync::Arc;

/// The CNF guard: a predicate is rewritten to conjunctive normal form only when that form
/// has at most this many clauses.
pub const CNF_MAX_CLAUSES: usize = 16;

/// The most clauses the CNF of one conjunct may reach before absorption (a bound on work).
pub const CNF_WORK_LIMIT: usize = 256;

/// The rule (see the module documentation).
#[derive(Debug, Default)]
pub struct Canonicalize;

impl Canonicalize {
    pub const NAME: &'static str = "rulec_canonicalize";
}

impl OptimizerRule for Canonicalize {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        match plan {
            LogicalPlan::Filter(filter) => {
                let scope = Scope::new(vec![Arc::clone(filter.input.schema())]);
                let predicate = scope.predicate(&filter.predicate)?;
                if predicate == filter.predicate {
                    return Ok(Transformed::no(LogicalPlan::Filter(filter)));
                }
                Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(
                    predicate,
                    filter.input,
                )?)))
            }
            LogicalPlan::Join(join) => {
                let scope = Scope::new(vec![
                    Arc::clone(join.left.schema()),
                    Arc::clone(join.right.schema()),
                ]);
                let mut on = join
                    .on
                    .iter()
                    .map(|(l, r)| Ok((scope.expression(l)?, scope.expression(r)?)))
                    .collect::<Result<Vec<_>>>()?;
                let mut keyed: Vec<(String, (Expr, Expr))> = on
                    .drain(..)
                    .map(|(l, r)| (format!("{} {}", scope.key(&l), scope.key(&r)), (l, r)))
                    .collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                keyed.dedup_by(|a, b| a.0 == b.0);
                let on: Vec<(Expr, Expr)> = keyed.into_iter().map(|(_, pair)| pair).collect();
                let filter = join
                    .filter
                    .as_ref()
                    .map(|f| scope.predicate(f))
                    .transpose()?;
                if on == join.on && filter == join.filter {
                    return Ok(Transformed::no(LogicalPlan::Join(join)));
                }
                Ok(Transformed::yes(LogicalPlan::Join(Join {
                    on,
                    filter,
                    ..join
                })))
            }
            // Scans carry no filters in rulec's plans (tables do not take pushed filters),
            // and leaves have no input scope.
            LogicalPlan::TableScan(_)
            | LogicalPlan::EmptyRelation(_)
            | LogicalPlan::Values(_)
            | LogicalPlan::Union(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Subquery(_)
            | LogicalPlan::Unnest(_) => Ok(Transformed::no(plan)),
            plan => {
                let inputs = plan.inputs();
                if inputs.len() != 1 {
                    return Ok(Transformed::no(plan));
                }
                let scope = Scope::new(vec![Arc::clone(inputs[0].schema())]);
                let names = NamePreserver::new(&plan);
                plan.map_expressions(|expr| {
                    let canonical = scope.expression(&expr)?;
                    Ok(if canonical == expr {
                        Transformed::no(expr)
                    } else {
                        // Names are rendered only for what changed (rendering is costly).
                        Transformed::yes(names.save(&expr).restore(canonical))
                    })
                })
            }
        }
    }
}

/// The input schemas of one plan node: what column references in its expressions mean.
struct Scope {
    schemas: Vec<Arc<DFSchema>>,
    /// All inputs' columns as one schema, for typing expressions; built on first use (only
    /// arithmetic operands are typed).
    merged: std::cell::OnceCell<DFSchema>,
    /// The order keys' encoder, built on first use.
    encoder: std::cell::OnceCell<PositionalEncoder>,
}

impl Scope {
    fn new(schemas: Vec<Arc<DFSchema>>) -> Self {
        Scope {
            schemas,
            merged: std::cell::OnceCell::new(),
            encoder: std::cell::OnceCell::new(),
        }
    }

    fn merged(&self) -> &DFSchema {
        // Typing fails for inputs that cannot be merged: numeric operands then stay in place.
        self.merged
            .get_or_init(|| crate::passes::merge_schemas(&self.schemas))
    }

    fn key(&self, expr: &Expr) -> String {
        self.encoder
            .get_or_init(|| {
                let scope: Vec<&Arc<DFSchema>> = self.schemas.iter().collect();
                PositionalEncoder::new(&scope)
            })
            .encode(expr)
    }

    /// The canonical form of an expression in any position: children first, then the node;
    /// an AND/OR chain as a whole (its operands canonical, then sorted once: sorting at
    /// every level of a chain of n operators would cost n² order keys).
    fn expression(&self, expr: &Expr) -> Result<Expr> {
        if let Expr::BinaryExpr(BinaryExpr { op, .. }) = expr
            && matches!(op, Operator::And | Operator::Or)
            && !is_volatile(expr)
        {
            let mut operands = Vec::new();
            flatten(expr.clone(), *op, &mut operands);
            let operands = operands
                .iter()
                .map(|operand| self.expression(operand))
                .collect::<Result<Vec<_>>>()?;
            return Ok(self.sorted_chain(operands, *op));
        }
        let with_children = expr
            .clone()
            .map_children(|child| self.expression(&child).map(Transformed::yes))?
            .data;
        Ok(self.canonical_node(with_children).data)
    }

    /// The canonical form of a predicate: as [`Scope::expression`], then guarded CNF. Each
    /// top-level conjunct is rewritten on its own, and only when its CNF (after absorption)
    /// has at most [`CNF_MAX_CLAUSES`] clauses; a conjunct over the guard stays one clause.
    fn predicate(&self, expr: &Expr) -> Result<Expr> {
        let expr = self.expression(expr)?;
        if is_volatile(&expr) {
            return Ok(expr);
        }
        let mut conjuncts = Vec::new();
        flatten(expr, Operator::And, &mut conjuncts);
        let mut clauses: Vec<Vec<(String, Expr)>> = Vec::new();
        for conjunct in conjuncts {
            match cnf(&conjunct, CNF_WORK_LIMIT)
                .map(|c| self.absorbed(c))
                .filter(|c| c.len() <= CNF_MAX_CLAUSES)
            {
                Some(cnf) => clauses.extend(cnf),
                None => clauses.push(vec![(self.key(&conjunct), conjunct)]),
            }
        }
        let disjunctions: Vec<Expr> = self
            .absorbed_keyed(clauses)
            .into_iter()
            .map(|literals| rebuild(literals.into_iter().map(|(_, e)| e).collect(), Operator::Or))
            .collect();
        Ok(self.sorted_chain(disjunctions, Operator::And))
    }

    /// CNF clauses with each clause's literals deduplicated and sorted, then clauses
    /// deduplicated and absorbed.
    fn absorbed(&self, clauses: Vec<Vec<Expr>>) -> Vec<Vec<(String, Expr)>> {
        self.absorbed_keyed(
            clauses
                .into_iter()
                .map(|clause| clause.into_iter().map(|e| (self.key(&e), e)).collect())
                .collect(),
        )
    }

    /// Absorption: a clause that contains every literal of another clause is implied by it
    /// and dropped (this also removes duplicate clauses).
    fn absorbed_keyed(&self, clauses: Vec<Vec<(String, Expr)>>) -> Vec<Vec<(String, Expr)>> {
        let mut clauses: Vec<Vec<(String, Expr)>> = clauses
            .into_iter()
            .map(|mut literals| {
                literals.sort_by(|a, b| a.0.cmp(&b.0));
                literals.dedup_by(|a, b| a.0 == b.0);
                literals
            })
            .collect();
        clauses.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| keys(a).cmp(&keys(b))));
        let mut kept: Vec<Vec<(String, Expr)>> = Vec::new();
        for clause in clauses {
            let absorbed = kept.iter().any(|smaller| {
                smaller
                    .iter()
                    .all(|(k, _)| clause.iter().any(|(other, _)| other == k))
            });
            if !absorbed {
                kept.push(clause);
            }
        }
        kept
    }

    /// One bottom-up step: the node's children are canonical already.
    fn canonical_node(&self, expr: Expr) -> Transformed<Expr> {
        if is_volatile(&expr) {
            return Transformed::no(expr);
        }
        // (AND/OR chains are handled as a whole by `expression`.)
        let canonical = match &expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                match self.mirror(left, *op, right) {
                    Some(mirrored) if self.key(left) > self.key(right) => {
                        Expr::BinaryExpr(BinaryExpr::new(right.clone(), mirrored, left.clone()))
                    }
                    _ => return Transformed::no(expr),
                }
            }
            Expr::InList(InList {
                expr: value,
                list,
                negated,
            }) => {
                let mut keyed: Vec<(String, Expr)> =
                    list.iter().map(|e| (self.key(e), e.clone())).collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                keyed.dedup_by(|a, b| a.0 == b.0);
                Expr::InList(InList {
                    expr: value.clone(),
                    list: keyed.into_iter().map(|(_, e)| e).collect(),
                    negated: *negated,
                })
            }
            _ => return Transformed::no(expr),
        };
        changed_if_differs(expr, canonical)
    }

    /// The operator to use when `left op right` is written `right op' left`, if that is
    /// the same computation.
    fn mirror(&self, left: &Expr, op: Operator, right: &Expr) -> Option<Operator> {
        match op {
            Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom => op.swap(),
            // Arithmetic commutes where both sides are numbers (the engine's numeric type
            // coercion is symmetric); dates, intervals and other types are left as written.
            Operator::Plus
            | Operator::Multiply
            | Operator::BitwiseAnd
            | Operator::BitwiseOr
            | Operator::BitwiseXor => {
                let l = left.get_type(self.merged()).ok()?;
                let r = right.get_type(self.merged()).ok()?;
                (l.is_numeric() && r.is_numeric()).then_some(op)
            }
            _ => None,
        }
    }

    /// `operands` deduplicated, sorted, and joined left-deep with `op`.
    fn sorted_chain(&self, operands: Vec<Expr>, op: Operator) -> Expr {
        let mut keyed: Vec<(String, Expr)> =
            operands.into_iter().map(|e| (self.key(&e), e)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        rebuild(keyed.into_iter().map(|(_, e)| e).collect(), op)
    }
}

fn keys(literals: &[(String, Expr)]) -> Vec<&str> {
    literals.iter().map(|(k, _)| k.as_str()).collect()
}

fn changed_if_differs(original: Expr, canonical: Expr) -> Transformed<Expr> {
    if canonical == original {
        Transformed::no(original)
    } else {
        Transformed::yes(canonical)
    }
}

/// The operands of a chain of `op` (aliases are not looked through: they name a value).
fn flatten(expr: Expr, op: Operator, out: &mut Vec<Expr>) {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: inner,
            right,
        }) if inner == op => {
            flatten(*left, op, out);
            flatten(*right, op, out);
        }
        other => out.push(other),
    }
}

/// `operands` joined left-deep with `op` (at least one operand).
fn rebuild(operands: Vec<Expr>, op: Operator) -> Expr {
    let mut iter = operands.into_iter();
    let first = iter.next().expect("a chain has at least one operand");
    iter.fold(first, |acc, e| {
        Expr::BinaryExpr(BinaryExpr::new(Box::new(acc), op, Box::new(e)))
    })
}

/// The clauses of `expr` in conjunctive normal form (each clause a disjunction of
/// literals), or `None` when that would exceed `max_clauses`.
fn cnf(expr: &Expr, max_clauses: usize) -> Option<Vec<Vec<Expr>>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut clauses = cnf(left, max_clauses)?;
            clauses.extend(cnf(right, max_clauses)?);
            (clauses.len() <= max_clauses).then_some(clauses)
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let left = cnf(left, max_clauses)?;
            let right = cnf(right, max_clauses)?;
            if left.len() * right.len() > max_clauses {
                return None;
            }
            let mut clauses = Vec::with_capacity(left.len() * right.len());
            for l in &left {
                for r in &right {
                    clauses.push(l.iter().chain(r).cloned().collect());
                }
            }
            Some(clauses)
        }
        other => Some(vec![vec![other.clone()]]),
    }
}
