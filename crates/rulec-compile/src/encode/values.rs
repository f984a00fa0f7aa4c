//! Value keys: an expression's key over its operands' keys, the definitions kept per key,
//! and a key seen through a join side (recomputed over tagged operands where that is the
//! same value). See the module documentation of the encoding.

use super::{Encoder, Scope, key, quoted};
use datafusion_common::ScalarValue;
use datafusion_expr::expr::{Alias, BinaryExpr};
use datafusion_expr::{Expr, Operator};
use std::sync::Arc;

impl Encoder {
    /// The value key of an expression (fingerprint mode). A column is its input's key; an
    /// alias is what it names; anything else is `%` + a hash of its text, in which every
    /// operand is its own value key. So an expression has one key wherever it is computed:
    /// inline, or in a projection below and referenced by name, as a subquery's column or
    /// a CTE's; and `get_field(x, 'a', 'b')` is written as `get_field(get_field(x, 'a'), 'b')`,
    /// so a struct path reads the same whether its prefix was taken apart earlier or not.
    pub(super) fn value(&mut self, expr: &Expr, scope: &Scope) -> String {
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
    pub(super) fn retag(&mut self, tag: &str, value: &str) -> String {
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
    pub(super) fn retag_padded(&mut self, tag: &str, value: &str) -> String {
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
}

/// What a computed value key stands for: the expression's text over its operands' keys.
/// Only row-wise, deterministic expressions get one (no subqueries, aggregates, windows,
/// outer references or volatile functions): their keys can be recomputed over other
/// operands (see [`Encoder::retag`]).
#[derive(Clone)]
pub(super) struct Def {
    pub(super) template: String,
    /// The operand keys that occur in `template`.
    operands: Vec<String>,
    /// Whether the expression is NULL whenever one of its operands is (`get_field`,
    /// arithmetic, comparisons, casts): such a value computed on a side an outer join pads
    /// with NULLs is the value computed after the join.
    strict: bool,
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
    #[allow(
        deprecated,
        reason = "the match names every variant, deprecated ones too (which variants are deprecated changes between DataFusion releases)"
    )]
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
