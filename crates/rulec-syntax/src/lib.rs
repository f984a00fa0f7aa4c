//! Rule text: parsing with sqlparser (which owns the spans), the one-query rule, and the
//! table references a rule makes.
//!
//! Architecture invariant: this crate has no DataFusion. It uses sqlparser at the exact
//! version DataFusion depends on, so the AST it returns is the one the planner consumes.

pub mod dialect;
mod lateral;
mod lints;
mod locate;
mod outline;
mod rewrite;
mod statement;
mod unnest_forms;
pub use unnest_forms::call as function_call;

pub use lints::{
    RuleLints, context_free_diagnostics, lint_statement, output_item_span, top_level_select_span,
};
pub use locate::{duplicate_output_names, locate_binary_operator, locate_error};
pub use outline::{
    CompletionPrefix, DottedName, Named, Outline, Relation, completion_prefix, dotted_name_at,
    first_word_span, outline,
};
pub use sqlparser;
pub use statement::{MAX_EXPRESSION_DEPTH, ParsedRule, TableRef, parse_rule};

use rulec_diagnostics::Span;
use sqlparser::dialect::{Dialect, GenericDialect};

/// The SQL dialect a pack's rules are written in (`dialect:` in `pack.yaml`): a handle on
/// one of the embedded dialect policies ([`dialect::policies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlDialect(&'static str);

#[allow(non_upper_case_globals, reason = "reads as the variant it used to be")]
impl SqlDialect {
    /// DataFusion's own dialect (sqlparser's generic dialect), the default.
    pub const DataFusion: SqlDialect = SqlDialect("datafusion");

    /// The names accepted in `pack.yaml`.
    pub fn names() -> Vec<&'static str> {
        dialect::policies()
            .iter()
            .map(|p| p.name.as_str())
            .collect()
    }

    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        let name = if name == "generic" {
            "datafusion"
        } else {
            name.as_str()
        };
        dialect::policies()
            .iter()
            .find(|p| p.name == name)
            .map(|p| SqlDialect(p.name.as_str()))
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// The dialect's policy.
    pub fn policy(self) -> Option<&'static dialect::DialectPolicy> {
        dialect::policies().iter().find(|p| p.name == self.0)
    }

    /// The sqlparser dialect that reads rules.
    pub fn parser_dialect(self) -> Box<dyn Dialect> {
        self.policy()
            .and_then(|p| sqlparser::dialect::dialect_from_str(&p.parser))
            .unwrap_or_else(|| Box::new(GenericDialect {}))
    }
}

/// Converts a sqlparser span (1-based, 0 = unknown) into a diagnostics span.
pub fn to_span(span: sqlparser::tokenizer::Span) -> Option<Span> {
    if span.start.line == 0 || span.start.column == 0 {
        return None;
    }
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let (end_line, end_column) = if span.end.line == 0 {
        (span.start.line, span.start.column + 1)
    } else {
        (span.end.line, span.end.column)
    };
    Some(Span::new(
        clamp(span.start.line),
        clamp(span.start.column),
        clamp(end_line),
        clamp(end_column),
    ))
}

/// Normalizes an identifier as DataFusion does with identifier normalization on:
/// unquoted identifiers are lowercased, quoted ones are kept as written.
pub fn normalize_ident(ident: &sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

#[cfg(test)]
mod tests;

/// The span of the first occurrence of the keyword sequence `words` (such as
/// `["IGNORE", "NULLS"]`; `"("` stands for an opening parenthesis) in rule text, outside
/// comments and string literals.
pub fn find_keywords(text: &str, dialect: SqlDialect, words: &[&str]) -> Option<Span> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    if words.is_empty() {
        return None;
    }
    let dialect_impl = dialect.parser_dialect();
    let tokens = Tokenizer::new(dialect_impl.as_ref(), text)
        .tokenize_with_location()
        .ok()?;
    let significant: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    significant.windows(words.len()).find_map(|window| {
        let matches = window.iter().zip(words).all(|(t, w)| match &t.token {
            Token::LParen => *w == "(",
            Token::Word(word) => word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w),
            _ => false,
        });
        if !matches {
            return None;
        }
        let start = to_span(window[0].span)?;
        let end = to_span(window[window.len() - 1].span)?;
        Some(Span {
            start: start.start,
            end: end.end,
        })
    })
}
