//! Finding the text an engine error is about, when the engine gives no span: the named
//! function call, the CASE, the IN list, the UNION, the struct field. The last resort is the
//! top-level SELECT, so that every finding has a position.

use crate::lints::top_level_select_span;
use crate::{SqlDialect, find_keywords, normalize_ident, to_span};
use rulec_diagnostics::Span;
use sqlparser::ast::{Expr, ObjectNamePart, SelectItem, Spanned, Statement, Visit, Visitor};
use std::ops::ControlFlow;

/// Where in `statement` (parsed from `text`) the engine error `message` most likely points.
pub fn locate_error(statement: &Statement, text: &str, message: &str) -> Option<Span> {
    if let Some(name) = quoted_after(message, &["Function '", "function '", "call to '", "to '"])
        && let Some(span) = first_expr(statement, |e| match e {
            Expr::Function(f) => f
                .name
                .0
                .last()
                .and_then(ObjectNamePart::as_ident)
                .is_some_and(|i| i.value.eq_ignore_ascii_case(&name)),
            _ => false,
        })
    {
        return Some(span);
    }
    if let Some(field) = between(message, "Field ", " not found in struct") {
        let found = first_expr(statement, |e| match e {
            Expr::CompoundIdentifier(parts) => {
                parts.last().is_some_and(|i| normalize_ident(i) == field)
            }
            Expr::CompoundFieldAccess { access_chain, .. } => {
                access_chain.last().is_some_and(|a| {
                    a.to_string()
                        .trim_start_matches('.')
                        .trim_matches(['[', ']', '\'', '"'])
                        == field
                })
            }
            _ => false,
        });
        if found.is_some() {
            return found;
        }
    }
    if message.contains("CASE")
        && let Some(span) = first_expr(statement, |e| matches!(e, Expr::Case { .. }))
    {
        return Some(span);
    }
    if message.contains("compare")
        && message.contains('[')
        && let Some(span) = first_expr(statement, |e| matches!(e, Expr::InList { .. }))
    {
        return Some(span);
    }
    if (message.contains("Union") || message.contains("UNION"))
        && let Some(span) = find_keywords(text, SqlDialect::DataFusion, &["UNION"])
    {
        return Some(span);
    }
    top_level_select_span(statement)
}

/// The span of the innermost binary expression with operator `op` (as SQL writes it:
/// `+`, `>`, `||`, …) whose left operand covers `operand` when that is known (the engine
/// gives the span of a column operand), else the first such expression in the rule.
pub fn locate_binary_operator(
    statement: &Statement,
    op: &str,
    operand: Option<Span>,
) -> Option<Span> {
    let covers = |outer: Span, inner: Span| outer.start <= inner.start && inner.end <= outer.end;
    let mut best: Option<Span> = None;
    let _ = first_expr(statement, |e| {
        if let Expr::BinaryOp { left, op: o, .. } = e
            && o.to_string().eq_ignore_ascii_case(op)
            && let Some(span) = to_span(e.span())
        {
            let fits = match (operand, to_span(left.span())) {
                (Some(operand), Some(left)) => covers(left, operand),
                (Some(_), None) => false,
                (None, _) => true,
            };
            // The innermost fitting expression: a later (nested) one inside the last wins.
            if fits && best.is_none_or(|b| covers(b, span)) {
                best = Some(span);
            }
        }
        false
    });
    best.or_else(|| {
        operand
            .is_some()
            .then(|| locate_binary_operator(statement, op, None))
            .flatten()
    })
}

/// The span of the second (and later) select item producing an output name already
/// produced by an earlier item of the top-level select list, with the name.
pub fn duplicate_output_names(statement: &Statement) -> Vec<(String, Option<Span>)> {
    let Statement::Query(query) = statement else {
        return Vec::new();
    };
    let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() else {
        return Vec::new();
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut duplicates = Vec::new();
    for item in &select.projection {
        let name = match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(normalize_ident(alias)),
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(normalize_ident(i)),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(normalize_ident)
            }
            _ => None,
        };
        if let Some(name) = name
            && !seen.insert(name.clone())
        {
            duplicates.push((name, to_span(item.span())));
        }
    }
    duplicates
}

fn quoted_after(message: &str, prefixes: &[&str]) -> Option<String> {
    prefixes.iter().find_map(|p| {
        let start = message.find(p)? + p.len();
        let end = message[start..].find('\'')? + start;
        let name = &message[start..end];
        (!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .then(|| name.to_owned())
    })
}

fn between<'a>(message: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = message.find(start)? + start.len();
    let to = message[from..].find(end)? + from;
    Some(&message[from..to])
}

fn first_expr(statement: &Statement, predicate: impl FnMut(&Expr) -> bool) -> Option<Span> {
    struct Finder<F> {
        predicate: F,
        found: Option<Span>,
    }
    impl<F: FnMut(&Expr) -> bool> Visitor for Finder<F> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if (self.predicate)(expr)
                && let Some(span) = to_span(expr.span())
            {
                self.found = Some(span);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder {
        predicate,
        found: None,
    };
    let _ = statement.visit(&mut finder);
    finder.found
}
