//! Lints over a rule's AST: findings that are legal SQL but likely mistakes. They are
//! reported as warnings; `pack.yaml` may allow or deny each by code.

use crate::{normalize_ident, to_span};
use rulec_diagnostics::{Diagnostic, Span, codes};
use sqlparser::ast::{
    BinaryOperator, Expr, ObjectNamePart, OrderByKind, Query, SelectItem, SetExpr, Spanned,
    Statement, Value, Visit, Visitor,
};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// What the lints found in one rule, before pack context decides what applies.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleLints {
    /// `x = NULL` / `x <> NULL` comparisons (always null).
    pub null_comparisons: Vec<(Span, bool)>,
    /// CTEs defined but never read, with their names.
    pub unused_ctes: Vec<(String, Option<Span>)>,
    /// `*` in the top-level select list.
    pub top_level_stars: Vec<Option<Span>>,
    /// The top-level ORDER BY, when the query has no LIMIT.
    pub order_without_limit: Option<Option<Span>>,
}

/// Runs the AST lints on a rule's query.
pub fn lint_statement(statement: &Statement) -> RuleLints {
    let mut lints = RuleLints::default();
    let Statement::Query(query) = statement else {
        return lints;
    };
    let mut visitor = LintVisitor::default();
    let _ = statement.visit(&mut visitor);
    lints.null_comparisons = visitor.null_comparisons;
    for (name, span) in visitor.ctes {
        if !visitor.relations.contains(&name) {
            lints.unused_ctes.push((name, span));
        }
    }
    if let Some(select) = leftmost_select(&query.body) {
        for item in &select.projection {
            match item {
                SelectItem::Wildcard(options) => {
                    lints
                        .top_level_stars
                        .push(to_span(options.wildcard_token.0.span));
                }
                SelectItem::QualifiedWildcard(_, options) => {
                    lints
                        .top_level_stars
                        .push(to_span(options.wildcard_token.0.span));
                }
                _ => {}
            }
        }
    }
    if let Some(order_by) = &query.order_by
        && query.limit_clause.is_none()
        && query.fetch.is_none()
    {
        let span = match &order_by.kind {
            OrderByKind::Expressions(exprs) => exprs.first().and_then(|e| to_span(e.expr.span())),
            OrderByKind::All(_) => None,
        };
        lints.order_without_limit = Some(span);
    }
    lints
}

/// The span of the select item that produces output column `name` in the top-level query
/// (the leftmost branch of a set operation), or of a `*` that may produce it.
pub fn output_item_span(statement: &Statement, name: &str) -> Option<Span> {
    let Statement::Query(query) = statement else {
        return None;
    };
    let select = leftmost_select(&query.body)?;
    let mut star = None;
    for item in &select.projection {
        match item {
            SelectItem::ExprWithAlias { alias, .. } if normalize_ident(alias) == name => {
                return to_span(item.span());
            }
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) if normalize_ident(ident) == name => {
                return to_span(item.span());
            }
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts))
                if parts.last().is_some_and(|i| normalize_ident(i) == name) =>
            {
                return to_span(item.span());
            }
            SelectItem::Wildcard(o) | SelectItem::QualifiedWildcard(_, o) => {
                star = star.or_else(|| to_span(o.wildcard_token.0.span));
            }
            _ => {}
        }
    }
    star
}

fn leftmost_select(body: &SetExpr) -> Option<&sqlparser::ast::Select> {
    match body {
        SetExpr::Select(select) => Some(select),
        SetExpr::SetOperation { left, .. } => leftmost_select(left),
        SetExpr::Query(query) => leftmost_select(&query.body),
        _ => None,
    }
}

#[derive(Default)]
struct LintVisitor {
    null_comparisons: Vec<(Span, bool)>,
    ctes: Vec<(String, Option<Span>)>,
    relations: BTreeSet<String>,
}

impl Visitor for LintVisitor {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.push((
                    normalize_ident(&cte.alias.name),
                    to_span(cte.alias.name.span),
                ));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &sqlparser::ast::ObjectName) -> ControlFlow<()> {
        if let Some(ObjectNamePart::Identifier(ident)) = relation.0.last() {
            self.relations.insert(normalize_ident(ident));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp { left, op, right } = expr {
            let is_null = |e: &Expr| matches!(e, Expr::Value(v) if matches!(v.value, Value::Null));
            let negated = match op {
                BinaryOperator::Eq => Some(false),
                BinaryOperator::NotEq => Some(true),
                _ => None,
            };
            if let Some(negated) = negated
                && (is_null(left) || is_null(right))
                && let Some(span) = to_span(expr.span())
            {
                self.null_comparisons.push((span, negated));
            }
        }
        ControlFlow::Continue(())
    }
}

/// The diagnostics of one rule's lints that need no pack context.
pub fn context_free_diagnostics(lints: &RuleLints) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (span, negated) in &lints.null_comparisons {
        let (op, fix) = if *negated {
            ("<>", "IS NOT NULL")
        } else {
            ("=", "IS NULL")
        };
        out.push(
            Diagnostic::warning(
                codes::NULL_COMPARISON,
                format!("`{op} NULL` is never true: comparing with NULL gives NULL"),
            )
            .at(*span)
            .with_help(format!("use `{fix}`")),
        );
    }
    for (name, span) in &lints.unused_ctes {
        out.push(
            Diagnostic::warning(codes::UNUSED_CTE, format!("CTE `{name}` is never read"))
                .at_opt(*span)
                .with_help("remove it, or read it in the query"),
        );
    }
    out
}

/// The span of the `SELECT` keyword of the top-level query (its leftmost branch).
pub fn top_level_select_span(statement: &Statement) -> Option<Span> {
    let Statement::Query(query) = statement else {
        return None;
    };
    leftmost_select(&query.body).and_then(|s| to_span(s.select_token.0.span))
}
