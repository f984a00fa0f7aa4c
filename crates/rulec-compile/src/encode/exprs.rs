//! How expressions are written: every `Expr` variant, the operand order of commutative
//! operators, sort keys, window frames and literals. See the module documentation of the
//! encoding.

use super::{Encoder, Scope, flatten, quoted};
use datafusion_common::{Column, ScalarValue};
use datafusion_expr::expr::{
    AggregateFunction, AggregateFunctionParams, Alias, Between, BinaryExpr, Case, Cast, Exists,
    GroupingSet, InList, InSubquery, Like, NullTreatment, Placeholder, SetComparison,
    SetQuantifier, Sort as SortExpr, TryCast, Unnest as UnnestExpr, WindowFunction,
    WindowFunctionParams,
};
use datafusion_expr::logical_plan::Subquery;
use datafusion_expr::{Expr, Operator, WindowFrame, WindowFrameBound, WindowFrameUnits};
use rulec_contract::render_type;
use std::fmt::Write as _;

impl Encoder {
    pub(super) fn exprs(&mut self, exprs: &[Expr], scope: &Scope) {
        for expr in exprs {
            self.out.push(' ');
            self.expr(expr, scope);
        }
    }

    pub(super) fn sort_exprs(&mut self, sorts: &[SortExpr], scope: &Scope) {
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

    pub(super) fn column(&mut self, column: &Column, scope: &Scope) {
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
    pub(super) fn expr(&mut self, expr: &Expr, scope: &Scope) {
        if self.normalize {
            let value = self.value(expr, scope);
            self.out.push_str(&value);
        } else {
            self.node(expr, scope);
        }
    }

    /// Writes one expression node, its operands through [`Encoder::expr`].
    pub(super) fn node(&mut self, expr: &Expr, scope: &Scope) {
        #[allow(
            deprecated,
            reason = "Expr::Wildcard is matched so that the match stays exhaustive"
        )]
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
