//! Diagnostics: the one model for every finding rulec reports, and its renderings.
//!
//! A [`Diagnostic`] carries a stable [`Code`] from the registry in [`codes`], a severity, a
//! message, an optional file and [`Span`] (1-based lines and columns, columns counted in
//! Unicode scalar values), secondary labels, notes and help. Library crates return them as
//! values; only the CLI decides how to print them and which exit code follows.

pub mod codes;
mod render;
mod sarif;

pub use codes::Code;
pub use render::{JsonDiagnostic, render_human, to_json};
pub use sarif::{SarifLog, to_sarif};

use serde::{Deserialize, Serialize};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A position in a text: 1-based line and 1-based column (Unicode scalar values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// A range of text, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

impl Span {
    pub fn new(start_line: u32, start_column: u32, end_line: u32, end_column: u32) -> Self {
        Span {
            start: Position {
                line: start_line,
                column: start_column,
            },
            end: Position {
                line: end_line,
                column: end_column,
            },
        }
    }

    /// A span covering one position (used when only a start is known).
    pub fn point(line: u32, column: u32) -> Self {
        Span::new(line, column, line, column + 1)
    }
}

/// A secondary location attached to a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding. Its serde form is lossless (the check cache keeps findings on disk); the
/// public JSON form is [`JsonDiagnostic`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// The file the finding is about, as written in the pack (relative to the pack root).
    pub file: Option<String>,
    pub span: Option<Span>,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with the given code and message and no location yet.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            file: None,
            span: None,
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// A warning with the given code and message and no location yet.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    #[must_use]
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    #[must_use]
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        if span.is_some() {
            self.span = span;
        }
        self
    }

    #[must_use]
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The key diagnostics are sorted by: file, position, code, message.
    pub fn sort_key(&self) -> (Option<&str>, Option<Span>, &'static str, &str) {
        (
            self.file.as_deref(),
            self.span,
            self.code.code,
            &self.message,
        )
    }
}

/// The span of the `nth` (0-based) occurrence of `key:` as a YAML key in `text`, in block
/// style (`key: …`, `- key: …`) or as the first key of a flow map (`{key: …}`).
/// A YAML parser's error as a diagnostic's message and span: the message without the
/// position the parser appends (`… at line 3 column 5`), which the span carries instead.
pub fn yaml_error(message: &str, line_column: Option<(usize, usize)>) -> (String, Option<Span>) {
    let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let span = line_column.map(|(line, column)| Span::point(to_u32(line), to_u32(column)));
    let message = message.split(" at line ").next().unwrap_or(message);
    (message.to_owned(), span)
}

pub fn yaml_key_span(text: &str, key: &str, nth: usize) -> Option<Span> {
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start_matches([' ', '-', '{', '\t']);
        if trimmed.starts_with(key) && trimmed[key.len()..].trim_start().starts_with(':') {
            if seen == nth {
                let column = line.chars().count() - trimmed.chars().count() + 1;
                let line = u32::try_from(i + 1).ok()?;
                let column = u32::try_from(column).ok()?;
                let width = u32::try_from(key.chars().count()).ok()?;
                return Some(Span::new(line, column, line, column + width));
            }
            seen += 1;
        }
    }
    None
}

/// The closest candidate within a small edit distance, for "did you mean" help. Among
/// equally close candidates, the one that starts like the name wins (a typo keeps the
/// first letters more often than not: `knd` is `kind` before `end`), then the first by name.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name_lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            let lower = c.to_lowercase();
            let shared = name_lower
                .chars()
                .zip(lower.chars())
                .take_while(|(a, b)| a == b)
                .count();
            (
                edit_distance(&name_lower, &lower),
                std::cmp::Reverse(shared),
                c,
            )
        })
        // A suggestion must keep part of the name: replacing every character is no hint.
        .filter(|(d, _, _)| *d <= limit && *d < name.chars().count())
        .min()
        .map(|(_, _, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Sorts diagnostics by file and position so that output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// True when any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

#[cfg(test)]
mod tests;
