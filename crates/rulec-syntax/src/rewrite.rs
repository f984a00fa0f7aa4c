//! Read rewrites: a dialect's constructs written as what DataFusion plans, on the AST before
//! planning, keeping the original spans (see `dialects/*.yaml`, `read_rewrites:`).

use crate::SqlDialect;
use crate::dialect::ReadRewrite;
use rulec_diagnostics::{Diagnostic, codes};
use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    AccessExpr, CaseWhen, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query,
    SelectItem, SetExpr, Spanned as _, Statement, Subscript, Value, ValueWithSpan, VisitMut,
    VisitorMut,
};
use sqlparser::tokenizer::{Token, TokenWithSpan};
use std::ops::ControlFlow;

/// Applies `dialect`'s read rewrites to `statement`; returns what it refuses.
pub fn apply(statement: &mut Statement, dialect: SqlDialect) -> Vec<Diagnostic> {
    let Some(policy) = dialect.policy() else {
        return Vec::new();
    };
    let mut refused = Vec::new();
    for rewrite in &policy.read_rewrites {
        match rewrite {
            ReadRewrite::IfFunction => {
                let _ = statement.visit(&mut IfFunction);
            }
            ReadRewrite::Explode => {
                let mut explode = Explode {
                    dialect: dialect.name(),
                    refused: Vec::new(),
                };
                let _ = statement.visit(&mut explode);
                refused.extend(explode.refused);
            }
            ReadRewrite::ArrayFunction => {
                let _ = statement.visit(&mut ArrayFunction);
            }
            ReadRewrite::CompositeFieldAccess => {
                let _ = statement.visit(&mut CompositeFieldAccess);
            }
            ReadRewrite::ZeroBasedSubscripts => {
                let mut check = ZeroBasedSubscripts {
                    dialect: dialect.name(),
                    refused: Vec::new(),
                };
                let _ = statement.visit(&mut check);
                refused.extend(check.refused);
            }
        }
    }
    refused
}

/// `explode(x)` → `unnest(x)`; `explode_outer(x)` → the unnest that keeps a row for a NULL
/// or empty list; `posexplode(x)` (and `_outer`) alone in a select list → its two columns
/// `pos` (from 0) and `col` (see [`crate::unnest_forms`]). `inline` (structs spread into
/// columns) and a `posexplode` elsewhere are refused.
struct Explode {
    dialect: &'static str,
    refused: Vec<Diagnostic>,
}

impl Explode {
    fn select_lists(&mut self, body: &mut SetExpr) {
        match body {
            SetExpr::Select(select) => {
                let mut projection = Vec::with_capacity(select.projection.len() + 1);
                for item in std::mem::take(&mut select.projection) {
                    match positions_and_elements(&item) {
                        Some((list, outer)) => {
                            let element = if outer {
                                crate::unnest_forms::nonempty_or_null(list.clone())
                            } else {
                                list.clone()
                            };
                            projection.push(SelectItem::ExprWithAlias {
                                expr: crate::unnest_forms::element_numbers(
                                    std::slice::from_ref(&list),
                                    0,
                                ),
                                alias: Ident::new("pos"),
                            });
                            projection.push(SelectItem::ExprWithAlias {
                                expr: crate::unnest_forms::call("unnest", vec![element]),
                                alias: Ident::new("col"),
                            });
                        }
                        None => projection.push(item),
                    }
                }
                select.projection = projection;
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.select_lists(left);
                self.select_lists(right);
            }
            _ => {}
        }
    }
}

/// `posexplode(x)` / `posexplode_outer(x)` as a whole unaliased select item: `x`, and
/// whether it is the outer form.
fn positions_and_elements(item: &SelectItem) -> Option<(Expr, bool)> {
    let SelectItem::UnnamedExpr(Expr::Function(function)) = item else {
        return None;
    };
    let name = function.name.to_string().to_ascii_lowercase();
    let outer = match name.as_str() {
        "posexplode" => false,
        "posexplode_outer" => true,
        _ => return None,
    };
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(x))] => Some((x.clone(), outer)),
        _ => None,
    }
}

impl VisitorMut for Explode {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.select_lists(&mut query.body);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        if function.name.0.len() != 1 {
            return ControlFlow::Continue(());
        }
        let name = function.name.to_string().to_ascii_lowercase();
        match name.as_str() {
            "explode" | "explode_outer" => {
                let span = function.name.span();
                function.name =
                    sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::with_span(
                        span, "unnest",
                    )]);
                if name == "explode_outer"
                    && let FunctionArguments::List(list) = &mut function.args
                    && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(x))] =
                        list.args.as_mut_slice()
                {
                    *x = crate::unnest_forms::nonempty_or_null(x.clone());
                }
            }
            "posexplode" | "posexplode_outer" | "inline" | "inline_outer" => {
                let help = if name.starts_with("posexplode") {
                    "write `posexplode(x)` alone and unaliased in the select list (columns \
                     `pos` and `col`), or `LATERAL VIEW posexplode(x) v AS pos, x`"
                } else {
                    "explode the list and read the struct's fields: `SELECT e.a, e.b FROM \
                     (SELECT explode(x) AS e FROM t)`"
                };
                let message = if name.starts_with("posexplode") {
                    format!(
                        "`{name}` ({}) is read only alone in a select list or in a LATERAL VIEW",
                        self.dialect
                    )
                } else {
                    format!(
                        "`{name}` ({}) spreads structs into columns, which rulec does not read",
                        self.dialect
                    )
                };
                self.refused.push(
                    Diagnostic::error(codes::DIALECT_CONSTRUCT_REFUSED, message)
                        .at_opt(crate::to_span(function.name.span()))
                        .with_help(help),
                );
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `array(a, b, …)` → `make_array(a, b, …)`: Spark's list constructor, which DataFusion
/// names `make_array` (it has no function `array`).
struct ArrayFunction;

impl VisitorMut for ArrayFunction {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr
            && function.name.0.len() == 1
            && function.name.to_string().eq_ignore_ascii_case("array")
            && matches!(function.args, FunctionArguments::List(_))
        {
            let span = function.name.span();
            function.name =
                sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::with_span(
                    span,
                    "make_array",
                )]);
        }
        ControlFlow::Continue(())
    }
}

/// `(s).a.b` → `s['a']['b']`: a field of a parenthesized composite, which DataFusion plans
/// as the same field access as `s.a.b`.
struct CompositeFieldAccess;

impl VisitorMut for CompositeFieldAccess {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundFieldAccess { access_chain, .. } = expr {
            for access in access_chain.iter_mut() {
                if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                    let span = field.span;
                    *access = AccessExpr::Subscript(Subscript::Index {
                        index: Expr::Value(ValueWithSpan {
                            value: Value::SingleQuotedString(field.value.clone()),
                            span,
                        }),
                    });
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// `x[i]` with an index other than a string literal → `subscript_from_zero(x, i)`: in the
/// dialect an array's subscript is 0-based, in DataFusion 1-based, and which `x` is a list
/// (rather than a map) is known only when the rule is planned, where that function becomes
/// `array_element(x, i + 1)` or the map lookup. A string key reads as it is (a map key or a
/// struct field either way); a slice `x[a:b]` is refused.
struct ZeroBasedSubscripts {
    dialect: &'static str,
    refused: Vec<Diagnostic>,
}

impl VisitorMut for ZeroBasedSubscripts {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::CompoundFieldAccess { access_chain, .. } = &*expr else {
            return ControlFlow::Continue(());
        };
        if !access_chain
            .iter()
            .any(|a| matches!(a, AccessExpr::Subscript(s) if !key_like(s)))
        {
            return ControlFlow::Continue(());
        }
        let span = expr.span();
        if access_chain
            .iter()
            .any(|a| matches!(a, AccessExpr::Subscript(Subscript::Slice { .. })))
        {
            self.refused.push(
                Diagnostic::error(
                    codes::DIALECT_CONSTRUCT_REFUSED,
                    format!("a slice `x[a:b]` is not {} syntax", self.dialect),
                )
                .at_opt(crate::to_span(span))
                .with_help("write `slice(x, start, length)` (Spark's, 1-based) as `array_slice(x, start, start + length - 1)`"),
            );
            return ControlFlow::Continue(());
        }
        let Expr::CompoundFieldAccess { root, access_chain } =
            std::mem::replace(expr, Expr::Value(Value::Null.into()))
        else {
            unreachable!("matched above")
        };
        let mut current = *root;
        let mut rest: Vec<AccessExpr> = Vec::new();
        for access in access_chain {
            match access {
                AccessExpr::Subscript(Subscript::Index { index }) if !is_key(&index) => {
                    if !rest.is_empty() {
                        current = Expr::CompoundFieldAccess {
                            root: Box::new(current),
                            access_chain: std::mem::take(&mut rest),
                        };
                    }
                    let mut call =
                        crate::unnest_forms::call("subscript_from_zero", vec![current, index]);
                    if let Expr::Function(function) = &mut call {
                        function.name = sqlparser::ast::ObjectName::from(vec![Ident::with_span(
                            span,
                            "subscript_from_zero",
                        )]);
                    }
                    current = call;
                }
                other => rest.push(other),
            }
        }
        *expr = if rest.is_empty() {
            current
        } else {
            Expr::CompoundFieldAccess {
                root: Box::new(current),
                access_chain: rest,
            }
        };
        ControlFlow::Continue(())
    }
}

/// A string literal subscript: a map key or a struct field, the same in every dialect.
fn is_key(index: &Expr) -> bool {
    matches!(
        index,
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(_) | Value::DoubleQuotedString(_),
            ..
        })
    )
}

fn key_like(subscript: &Subscript) -> bool {
    matches!(subscript, Subscript::Index { index } if is_key(index))
}

/// `IF(c, a, b)` / `IIF(c, a, b)` → `CASE WHEN c THEN a ELSE b END` (DuckDB, Spark, Trino).
struct IfFunction;

impl VisitorMut for IfFunction {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        let name = function.name.to_string().to_ascii_lowercase();
        if !matches!(name.as_str(), "if" | "iif") {
            return ControlFlow::Continue(());
        }
        let FunctionArguments::List(list) = &function.args else {
            return ControlFlow::Continue(());
        };
        let args: Vec<&Expr> = list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect();
        if args.len() != 3 || list.args.len() != 3 || function.filter.is_some() {
            // Not the three-argument form: left to the planner, which names the function.
            return ControlFlow::Continue(());
        }
        let span = function.name.span();
        let keyword = |word: &str| {
            AttachedToken(TokenWithSpan {
                token: Token::make_keyword(word),
                span,
            })
        };
        *expr = Expr::Case {
            case_token: keyword("CASE"),
            end_token: keyword("END"),
            operand: None,
            conditions: vec![CaseWhen {
                condition: args[0].clone(),
                result: args[1].clone(),
            }],
            else_result: Some(Box::new(args[2].clone())),
        };
        ControlFlow::Continue(())
    }
}
