//! What an editor shows of a rule: its CTEs, its output columns and the tables it names
//! (with their aliases), and the dotted name under a cursor.

use crate::{SqlDialect, normalize_ident, to_span};
use rulec_diagnostics::Span;
use sqlparser::ast::{
    Expr, ObjectNamePart, Query, SelectItem, SetExpr, Spanned, Statement, TableFactor, Visit,
    Visitor,
};
use sqlparser::tokenizer::{Token, Tokenizer};
use std::ops::ControlFlow;

/// A name written in a rule, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub span: Option<Span>,
}

/// A table named in a FROM clause: by `table`, known in the query as `name` (its alias, or
/// the table's own name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    pub table: String,
    /// Where the table's name is written.
    pub span: Option<Span>,
}

/// A rule's outline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// CTEs, at their names.
    pub ctes: Vec<Named>,
    /// Output columns of the top-level query (the leftmost branch of a set operation), at
    /// their aliases or expressions; `*` items are left out.
    pub outputs: Vec<Named>,
    /// Every table named in a FROM clause, CTE names included, in source order.
    pub relations: Vec<Relation>,
}

/// The outline of a parsed rule.
pub fn outline(statement: &Statement) -> Outline {
    let mut collector = OutlineCollector::default();
    let _ = statement.visit(&mut collector);
    let mut outline = collector.outline;
    if let Statement::Query(query) = statement
        && let Some(select) = leftmost_select(&query.body)
    {
        for item in &select.projection {
            let (name, span) = match item {
                SelectItem::ExprWithAlias { alias, .. } => (normalize_ident(alias), alias.span),
                SelectItem::UnnamedExpr(Expr::Identifier(ident)) => {
                    (normalize_ident(ident), ident.span)
                }
                SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => match parts.last() {
                    Some(last) => (normalize_ident(last), last.span),
                    None => continue,
                },
                _ => continue,
            };
            outline.outputs.push(Named {
                name,
                span: to_span(span),
            });
        }
    }
    outline
}

fn leftmost_select(body: &SetExpr) -> Option<&sqlparser::ast::Select> {
    match body {
        SetExpr::Select(select) => Some(select),
        SetExpr::Query(query) => leftmost_select(&query.body),
        SetExpr::SetOperation { left, .. } => leftmost_select(left),
        _ => None,
    }
}

#[derive(Default)]
struct OutlineCollector {
    outline: Outline,
    depth: usize,
}

impl Visitor for OutlineCollector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.depth == 0
            && let Some(with) = &query.with
        {
            for cte in &with.cte_tables {
                self.outline.ctes.push(Named {
                    name: normalize_ident(&cte.alias.name),
                    span: to_span(cte.alias.name.span),
                });
            }
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, alias, args, ..
        } = factor
            && args.is_none()
            && let Some(ObjectNamePart::Identifier(last)) = name.0.last()
        {
            let table = normalize_ident(last);
            self.outline.relations.push(Relation {
                name: alias
                    .as_ref()
                    .map_or_else(|| table.clone(), |a| normalize_ident(&a.name)),
                table,
                span: to_span(name.span()),
            });
        }
        ControlFlow::Continue(())
    }
}

/// A dotted name (`n.span.start`) in rule text, split at its dots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DottedName {
    /// The parts, normalized as DataFusion resolves them (unquoted ones lowercased).
    pub parts: Vec<String>,
    /// Where each part is written.
    pub spans: Vec<Span>,
    /// The part the cursor is on (or right after).
    pub index: usize,
}

/// The dotted name at a cursor (1-based line and column, in characters), if the cursor is
/// on one of its words or right after one. Text that does not parse is fine: only tokens
/// are read.
pub fn dotted_name_at(
    text: &str,
    dialect: SqlDialect,
    line: u32,
    column: u32,
) -> Option<DottedName> {
    let tokens = tokens(text, dialect)?;
    let at = tokens.iter().position(|(token, span)| {
        matches!(token, Token::Word(_)) && contains(span, line, column)
    })?;
    Some(chain_around(&tokens, at))
}

/// What is written before a cursor that completion continues: the dotted qualifiers before
/// it (`n.span.` gives `["n", "span"]`) and the partial word being typed (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompletionPrefix {
    pub qualifiers: Vec<String>,
    pub partial: String,
}

/// The [`CompletionPrefix`] at a cursor (1-based line and column, in characters).
pub fn completion_prefix(
    text: &str,
    dialect: SqlDialect,
    line: u32,
    column: u32,
) -> CompletionPrefix {
    let Some(tokens) = tokens(text, dialect) else {
        return CompletionPrefix::default();
    };
    // The tokens that start before the cursor.
    let before: Vec<&(Token, Span)> = tokens
        .iter()
        .filter(|(token, span)| {
            !matches!(token, Token::EOF) && (span.start.line, span.start.column) < (line, column)
        })
        .collect();
    let mut prefix = CompletionPrefix::default();
    let mut rest = before.as_slice();
    // A word the cursor is in, or right after, is the partial word: its part before the
    // cursor.
    if let Some(((Token::Word(word), span), earlier)) = rest.split_last()
        && (line, column) <= (span.end.line, span.end.column)
    {
        let typed = usize::try_from(column.saturating_sub(span.start.column)).unwrap_or(0);
        let skip = usize::from(word.quote_style.is_some());
        prefix.partial = word
            .value
            .chars()
            .take(typed.saturating_sub(skip))
            .collect();
        rest = earlier;
    } else if let Some(((_, span), _)) = rest.split_last()
        && (line, column) < (span.end.line, span.end.column)
    {
        return prefix; // Inside a string, a number or a comment: nothing to complete.
    }
    // Then `word .` pairs, right to left.
    while let Some(((Token::Period, _), earlier)) = rest.split_last() {
        match earlier.split_last() {
            Some(((Token::Word(word), _), earlier)) => {
                prefix.qualifiers.insert(0, normalize_word(word));
                rest = earlier;
            }
            _ => break,
        }
    }
    prefix
}

/// Where `name` (normalized: unquoted words lowercased) is first written as a word in rule
/// text, outside comments and strings.
pub fn first_word_span(text: &str, dialect: SqlDialect, name: &str) -> Option<Span> {
    tokens(text, dialect)?
        .into_iter()
        .find_map(|(token, span)| match token {
            Token::Word(word) if normalize_word(&word) == name => Some(span),
            _ => None,
        })
}

fn tokens(text: &str, dialect: SqlDialect) -> Option<Vec<(Token, Span)>> {
    let dialect = dialect.parser_dialect();
    let tokens = Tokenizer::new(dialect.as_ref(), text)
        .tokenize_with_location()
        .ok()?;
    Some(
        tokens
            .into_iter()
            .filter_map(|t| to_span(t.span).map(|span| (t.token, span)))
            .collect(),
    )
}

fn contains(span: &Span, line: u32, column: u32) -> bool {
    (span.start.line, span.start.column) <= (line, column)
        && (line, column) <= (span.end.line, span.end.column)
}

fn normalize_word(word: &sqlparser::tokenizer::Word) -> String {
    if word.quote_style.is_some() {
        word.value.clone()
    } else {
        word.value.to_lowercase()
    }
}

/// The `word (. word)*` chain through the word token at `at`.
fn chain_around(tokens: &[(Token, Span)], at: usize) -> DottedName {
    let is_word = |i: usize| matches!(tokens.get(i), Some((Token::Word(_), _)));
    let is_dot = |i: usize| matches!(tokens.get(i), Some((Token::Period, _)));
    let mut start = at;
    while start >= 2 && is_dot(start - 1) && is_word(start - 2) {
        start -= 2;
    }
    let mut end = at;
    while is_dot(end + 1) && is_word(end + 2) {
        end += 2;
    }
    let mut name = DottedName {
        parts: Vec::new(),
        spans: Vec::new(),
        index: (at - start) / 2,
    };
    for (token, span) in tokens[start..=end].iter().step_by(2) {
        if let Token::Word(word) = token {
            name.parts.push(normalize_word(word));
            name.spans.push(*span);
        }
    }
    name
}
