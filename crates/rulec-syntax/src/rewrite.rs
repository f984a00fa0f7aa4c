//! Read rewrites: a dialect's constructs written as what DataFusion plans, on the AST before
//! planning, keeping the original spans (see `dialects/*.yaml`, `read_rewrites:`).

use crate::SqlDialect;
use crate::dialect::ReadRewrite;
use rulec_diagnostics::{Diagnostic, codes};
use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    AccessExpr, CaseWhen, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned as _,
    Statement, Subscript, Value, ValueWithSpan, VisitMut, VisitorMut,
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
            ReadRewrite::RefuseZeroBasedSubscripts => {
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

/// `explode(x)` → `unnest(x)`; `explode_outer`, `posexplode`, `posexplode_outer` and
/// `inline` are refused (rows of NULL or empty lists kept, positions, structs spread).
struct Explode {
    dialect: &'static str,
    refused: Vec<Diagnostic>,
}

impl VisitorMut for Explode {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        if function.name.0.len() != 1 {
            return ControlFlow::Continue(());
        }
        let name = function.name.to_string().to_ascii_lowercase();
        match name.as_str() {
            "explode" => {
                let span = function.name.span();
                function.name =
                    sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::with_span(
                        span, "unnest",
                    )]);
            }
            "explode_outer" | "posexplode" | "posexplode_outer" | "inline" | "inline_outer" => {
                self.refused.push(
                    Diagnostic::error(
                        codes::DIALECT_CONSTRUCT_REFUSED,
                        format!(
                            "`{name}` ({}) has no DataFusion equivalent: rulec's unnest drops NULL and empty lists and gives no positions",
                            self.dialect
                        ),
                    )
                    .at_opt(crate::to_span(function.name.span()))
                    .with_help("use `explode(x)` (rows of NULL or empty lists dropped); number elements with a window function over the exploded rows if positions are needed"),
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

/// Refuses `x[i]` unless `i` is a string literal (a map key): in the dialect an array's
/// subscript is 0-based, in DataFusion 1-based, and which `x` is a list is known only
/// when the rule is planned.
struct ZeroBasedSubscripts {
    dialect: &'static str,
    refused: Vec<Diagnostic>,
}

impl VisitorMut for ZeroBasedSubscripts {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::CompoundFieldAccess { access_chain, .. } = expr else {
            return ControlFlow::Continue(());
        };
        for access in access_chain.iter() {
            let AccessExpr::Subscript(subscript) = access else {
                continue;
            };
            let key_like = matches!(
                subscript,
                Subscript::Index {
                    index: Expr::Value(ValueWithSpan {
                        value: Value::SingleQuotedString(_) | Value::DoubleQuotedString(_),
                        ..
                    })
                }
            );
            if !key_like {
                self.refused.push(
                    Diagnostic::error(
                        codes::DIALECT_CONSTRUCT_REFUSED,
                        format!(
                            "`{expr}` subscripts from 0 in {}, from 1 in rulec's lists",
                            self.dialect
                        ),
                    )
                    .at_opt(crate::to_span(expr.span()))
                    .with_help("write `array_element(x, i + 1)` for a list element (1-based), or `x['key']` for a map value"),
                );
                break;
            }
        }
        ControlFlow::Continue(())
    }
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
