//! One rule = one query statement.

use crate::{SqlDialect, normalize_ident, to_span};
use rulec_diagnostics::{Diagnostic, Span, codes};
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, ObjectName, ObjectNamePart, Query, Spanned, Statement,
    TableFactor, TableFunctionArgs, Value, Visit, Visitor,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// How deep the parser may recurse before it reports an error instead of overflowing.
const RECURSION_LIMIT: usize = 256;

/// The deepest nesting of expressions a rule may have (`S007`). The parser's recursion
/// limit does not bound chains of binary operators (`a AND b AND c ...` parses in a loop
/// into a tree one level deeper per operator), and everything downstream (planning, the
/// pipeline, encodings, execution) recurses over the tree; DataFusion's Substrait producer
/// types every level of a chain anew, which costs the cube of the chain's length (about
/// two seconds for 255 levels in a debug build, minutes for a thousand).
pub const MAX_EXPRESSION_DEPTH: usize = 256;

/// Rule texts longer than this are parsed on a thread with [`PARSE_STACK`] bytes of stack:
/// a text this short cannot nest deeply enough to matter, a longer one may build (and
/// drop) a tree thousands of levels deep before the depth check refuses it.
const LARGE_TEXT: usize = 8 << 10;
const PARSE_STACK: usize = 256 << 20;

/// Keywords that start statements other than queries, for naming a statement the parser
/// cannot read (`S002` instead of a parse error: it would be refused anyway).
const NON_QUERY_KEYWORDS: &[&str] = &[
    "ALTER",
    "ANALYZE",
    "ATTACH",
    "BEGIN",
    "CACHE",
    "CALL",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DESCRIBE",
    "DETACH",
    "DROP",
    "EXECUTE",
    "EXPLAIN",
    "GRANT",
    "INSERT",
    "INSTALL",
    "KILL",
    "LOAD",
    "LOCK",
    "MERGE",
    "PRAGMA",
    "PREPARE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SET",
    "SHOW",
    "START",
    "TRUNCATE",
    "UNCACHE",
    "UNLOAD",
    "UPDATE",
    "USE",
    "VACUUM",
];

/// A parsed rule: its one query statement and the tables it reads.
#[derive(Debug, Clone)]
pub struct ParsedRule {
    pub statement: Statement,
    /// Tables the rule reads by name (CTE names excluded), in source order, deduplicated by
    /// normalized name (the first occurrence's span is kept).
    pub table_refs: Vec<TableRef>,
}

/// A table a rule reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableRef {
    /// The normalized (last) name part: what the reference resolves against.
    pub name: String,
    /// The reference as written.
    pub written: String,
    pub span: Option<Span>,
}

/// Parses a rule file's text into its one query, or returns why it is not a valid rule.
/// Diagnostics carry `file`.
pub fn parse_rule(
    file: &str,
    text: &str,
    dialect: SqlDialect,
) -> Result<ParsedRule, Vec<Diagnostic>> {
    if text.len() <= LARGE_TEXT {
        return parse_rule_here(file, text, dialect);
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("rulec-parse".to_owned())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_rule_here(file, text, dialect))
            .map_or_else(
                // No thread to be had: parse here (the depth check still applies).
                |_| parse_rule_here(file, text, dialect),
                |handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                },
            )
    })
}

fn parse_rule_here(
    file: &str,
    text: &str,
    dialect: SqlDialect,
) -> Result<ParsedRule, Vec<Diagnostic>> {
    let dialect_impl = dialect.parser_dialect();
    let starts = statement_starts(text, dialect);
    let statements = Parser::new(dialect_impl.as_ref())
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|err| vec![parse_failure(file, text, &starts, &err)])?;
    if statements.is_empty() {
        return Err(vec![
            Diagnostic::error(codes::EMPTY_RULE, "the rule file holds no query")
                .in_file(file)
                .at(Span::point(1, 1))
                .with_help("write one SELECT query that defines the product"),
        ]);
    }
    let mut diagnostics = Vec::new();
    if statements.len() > 1 {
        let mut d = Diagnostic::error(
            codes::MULTIPLE_STATEMENTS,
            format!(
                "the rule file holds {} statements; a rule is exactly one query",
                statements.len()
            ),
        )
        .in_file(file)
        .at_opt(starts.get(1).map(|(span, _)| *span))
        .with_help("move each further statement into a rule file of its own");
        for (span, _) in starts.iter().skip(2) {
            d = d.with_label(*span, "another statement");
        }
        diagnostics.push(d);
    }
    for (index, statement) in statements.iter().enumerate() {
        if !matches!(statement, Statement::Query(_)) {
            let (span, keyword) = starts
                .get(index)
                .cloned()
                .map_or((None, "this".to_owned()), |(s, k)| (Some(s), k));
            diagnostics.push(
                Diagnostic::error(
                    codes::FORBIDDEN_STATEMENT,
                    format!("`{keyword}` statements are not allowed in a rule; a rule is one query"),
                )
                .in_file(file)
                .at_opt(span)
                .with_help("write a SELECT (or WITH ... SELECT, VALUES, UNION ...) that defines the product"),
            );
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut statement = statements.into_iter().next().expect("one statement");
    if let ControlFlow::Break(()) = statement.visit(&mut DepthCheck::default()) {
        return Err(vec![too_deep(
            file,
            &starts,
            format!("the rule nests expressions more than {MAX_EXPRESSION_DEPTH} levels deep"),
        )]);
    }
    let lateral = crate::lateral::rewrite_lateral_unnest(&mut statement);
    if !lateral.is_empty() {
        // sqlparser's span of an unnest starts after its keyword: widen it to the keyword.
        return Err(lateral
            .into_iter()
            .map(|mut d| {
                d.span = d
                    .span
                    .map(|span| widen_to_keyword(text, dialect, span, "UNNEST"));
                d.in_file(file)
            })
            .collect());
    }
    let refused = crate::rewrite::apply(&mut statement, dialect);
    if !refused.is_empty() {
        return Err(refused.into_iter().map(|d| d.in_file(file)).collect());
    }
    let mut collector = RefCollector::default();
    let _ = statement.visit(&mut collector);
    let mut diagnostics = Vec::new();
    for (mut d, needle) in collector.diagnostics {
        d.file = Some(file.to_owned());
        if d.span.is_none() {
            d.span = find_text(text, &needle);
        }
        diagnostics.push(d);
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut seen = BTreeSet::new();
    let table_refs = collector
        .refs
        .into_iter()
        .filter(|r| !collector.cte_names.contains(&r.name))
        .filter(|r| seen.insert(r.name.clone()))
        .collect();
    Ok(ParsedRule {
        statement,
        table_refs,
    })
}

/// `span` started at the last `keyword` token at or before it (unchanged if none).
fn widen_to_keyword(text: &str, dialect: SqlDialect, span: Span, keyword: &str) -> Span {
    let dialect_impl = dialect.parser_dialect();
    let Ok(tokens) = Tokenizer::new(dialect_impl.as_ref(), text).tokenize_with_location() else {
        return span;
    };
    tokens
        .iter()
        .filter(|t| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword)))
        .filter_map(|t| to_span(t.span))
        .rfind(|k| k.start <= span.start)
        .map_or(span, |k| Span {
            start: k.start,
            end: span.end,
        })
}

/// The start span and leading keywords of every statement, found from the token stream
/// (sqlparser does not give every statement kind a span).
fn statement_starts(text: &str, dialect: SqlDialect) -> Vec<(Span, String)> {
    let dialect_impl = dialect.parser_dialect();
    let Ok(tokens) = Tokenizer::new(dialect_impl.as_ref(), text).tokenize_with_location() else {
        return Vec::new();
    };
    let mut starts = Vec::new();
    let mut expecting_start = true;
    let mut depth = 0usize;
    let significant: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    for (i, token) in significant.iter().enumerate() {
        match token.token {
            Token::SemiColon if depth == 0 => {
                expecting_start = true;
                continue;
            }
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::EOF => break,
            _ => {}
        }
        if expecting_start {
            expecting_start = false;
            let words: Vec<String> = significant[i..]
                .iter()
                .take(2)
                .filter_map(|t| match &t.token {
                    Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_uppercase()),
                    _ => None,
                })
                .collect();
            let keyword = match words.as_slice() {
                [first, second] if matches!(first.as_str(), "CREATE" | "DROP" | "ALTER") => {
                    format!("{first} {second}")
                }
                [first, ..] => first.clone(),
                [] => "this".to_owned(),
            };
            if let Some(span) = to_span(token.span) {
                starts.push((span, keyword));
            }
        }
    }
    starts
}

/// The span of the first occurrence of `needle` in `text`, if any.
fn find_text(text: &str, needle: &str) -> Option<Span> {
    if needle.is_empty() {
        return None;
    }
    for (i, line) in text.lines().enumerate() {
        if let Some(at) = line.find(needle) {
            let col = line[..at].chars().count() + 1;
            let line_no = u32::try_from(i + 1).ok()?;
            let start = u32::try_from(col).ok()?;
            let width = u32::try_from(needle.chars().count()).ok()?;
            return Some(Span::new(line_no, start, line_no, start + width));
        }
    }
    None
}

/// The position just after the last character of `text` (where an unexpected end is).
fn end_of_text(text: &str) -> Span {
    let trimmed = text.trim_end();
    let line = trimmed.lines().count().max(1);
    let column = trimmed.lines().last().map_or(0, |l| l.chars().count()) + 1;
    let line = u32::try_from(line).unwrap_or(u32::MAX);
    let column = u32::try_from(column).unwrap_or(u32::MAX);
    Span::new(line, column, line, column + 1)
}

/// Counts the nesting of expressions and stops at [`MAX_EXPRESSION_DEPTH`] (so that the
/// visit itself recurses no deeper than that).
#[derive(Default)]
struct DepthCheck {
    depth: usize,
}

impl Visitor for DepthCheck {
    type Break = ();

    fn pre_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

/// `S007` at the start of the (first) statement.
fn too_deep(file: &str, starts: &[(Span, String)], message: String) -> Diagnostic {
    Diagnostic::error(codes::NESTING_TOO_DEEP, message)
        .in_file(file)
        .at_opt(starts.first().map(|(span, _)| *span))
        .with_help("flatten the rule: IN lists instead of long OR chains, CTEs instead of deeply nested subqueries")
}

/// Why the rule text does not parse: a statement that is not a query is named as such
/// (`S002`, whatever else is wrong with it); nesting past the parser's limit is `S007`;
/// anything else is a parse error.
fn parse_failure(
    file: &str,
    text: &str,
    starts: &[(Span, String)],
    err: &ParserError,
) -> Diagnostic {
    if let Some((span, keyword)) = starts.iter().find(|(_, keyword)| {
        keyword
            .split(' ')
            .next()
            .is_some_and(|first| NON_QUERY_KEYWORDS.contains(&first))
    }) {
        return Diagnostic::error(
            codes::FORBIDDEN_STATEMENT,
            format!("`{keyword}` statements are not allowed in a rule; a rule is one query"),
        )
        .in_file(file)
        .at(*span)
        .with_help(
            "write a SELECT (or WITH ... SELECT, VALUES, UNION ...) that defines the product",
        );
    }
    if matches!(err, ParserError::RecursionLimitExceeded) {
        return too_deep(
            file,
            starts,
            "the rule nests parentheses, subqueries or operators too deeply to parse".to_owned(),
        );
    }
    parse_error(file, text, err)
}

fn parse_error(file: &str, text: &str, err: &ParserError) -> Diagnostic {
    let (message, span) = match err {
        ParserError::RecursionLimitExceeded => {
            ("the rule is nested too deeply to parse".to_owned(), None)
        }
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
            let (message, position) = split_location(m);
            let span = match position {
                Some((l, c)) => Some(widen_to_token(text, Span::point(l, c))),
                None if message.ends_with("found: EOF") => Some(end_of_text(text)),
                None => None,
            };
            (message, span)
        }
    };
    Diagnostic::error(codes::PARSE_ERROR, message)
        .in_file(file)
        .at_opt(span)
}

/// sqlparser appends ` at Line: L, Column: C` to its messages; split it off.
fn split_location(message: &str) -> (String, Option<(u32, u32)>) {
    if let Some(idx) = message.rfind(" at Line: ") {
        let rest = &message[idx + " at Line: ".len()..];
        let mut parts = rest.split(", Column: ");
        let line = parts.next().and_then(|l| l.trim().parse().ok());
        let column = parts.next().and_then(|c| {
            c.trim()
                .trim_end_matches(|ch: char| !ch.is_ascii_digit())
                .parse()
                .ok()
        });
        if let (Some(line), Some(column)) = (line, column) {
            return (message[..idx].to_owned(), Some((line, column)));
        }
    }
    (message.to_owned(), None)
}

/// Widens a point span to the word that starts there, so carets underline the token.
fn widen_to_token(text: &str, span: Span) -> Span {
    let Some(line) = text.lines().nth(span.start.line as usize - 1) else {
        return span;
    };
    let start = span.start.column as usize - 1;
    let len = line
        .chars()
        .skip(start)
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .count()
        .max(1);
    Span::new(
        span.start.line,
        span.start.column,
        span.start.line,
        span.start.column + u32::try_from(len).unwrap_or(1),
    )
}

#[derive(Default)]
struct RefCollector {
    refs: Vec<TableRef>,
    cte_names: BTreeSet<String>,
    /// Findings with the text they are about (to locate them when the AST has no span).
    diagnostics: Vec<(Diagnostic, String)>,
}

impl Visitor for RefCollector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.cte_names.insert(normalize_ident(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table { name, args, .. } => {
                if let Some(args) = args {
                    self.check_table_function(name, args);
                } else if let Some(path) = quoted_path(name) {
                    self.diagnostics.push((
                        Diagnostic::error(
                            codes::FILE_PATH_READ,
                            format!("the rule reads `{path}` by path; rules read tables by name"),
                        )
                        .at_opt(to_span(name.span()))
                        .with_help("declare the data as an input in pack.yaml with a contract, and read it by its table name"),
                        name.to_string(),
                    ));
                } else {
                    self.push_ref(name);
                }
            }
            TableFactor::TableFunction { expr, .. } => {
                self.diagnostics.push((
                    Diagnostic::error(
                        codes::FORBIDDEN_STATEMENT,
                        "table functions are not allowed in a rule",
                    )
                    .at_opt(to_span(expr.span())),
                    "TABLE".to_owned(),
                ));
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl RefCollector {
    fn push_ref(&mut self, name: &ObjectName) {
        let Some(ObjectNamePart::Identifier(last)) = name.0.last() else {
            return;
        };
        self.refs.push(TableRef {
            name: normalize_ident(last),
            written: name.to_string(),
            span: to_span(name.span()),
        });
    }

    fn check_table_function(&mut self, name: &ObjectName, args: &TableFunctionArgs) {
        let reads_path = args.args.iter().any(|arg| {
            let expr = match arg {
                FunctionArg::Named { arg, .. }
                | FunctionArg::ExprNamed { arg, .. }
                | FunctionArg::Unnamed(arg) => arg,
            };
            matches!(
                expr,
                FunctionArgExpr::Expr(Expr::Value(v))
                    if matches!(v.value, Value::SingleQuotedString(_) | Value::DoubleQuotedString(_))
            )
        });
        let diagnostic = if reads_path {
            Diagnostic::error(
                codes::FILE_PATH_READ,
                format!("`{name}(...)` reads a file by path; rules read tables by name"),
            )
            .with_help("declare the data as an input in pack.yaml with a contract, and read it by its table name")
        } else {
            Diagnostic::error(
                codes::FORBIDDEN_STATEMENT,
                format!("table function `{name}(...)` is not allowed in a rule"),
            )
        };
        self.diagnostics
            .push((diagnostic.at_opt(to_span(name.span())), name.to_string()));
    }
}

/// A table name that is really a file path or URL (`FROM 'data/x.parquet'`).
fn quoted_path(name: &ObjectName) -> Option<String> {
    let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
        return None;
    };
    let looks_like_path = ident.value.contains('/')
        || ident.value.contains('\\')
        || ident.value.contains("://")
        || [".parquet", ".csv", ".json", ".arrow", ".avro", ".ndjson"]
            .iter()
            .any(|ext| ident.value.to_ascii_lowercase().ends_with(ext));
    (ident.quote_style.is_some() && looks_like_path).then(|| ident.value.clone())
}
