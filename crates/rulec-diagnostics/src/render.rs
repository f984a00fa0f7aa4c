//! Renderings of diagnostics: a human form and the JSON form of DESIGN §6.

use crate::{Diagnostic, Severity};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Renders one diagnostic for people: a header, the location, the source line with carets
/// when `source` (the file's text) is given, then labels, notes and help.
pub fn render_human(diagnostic: &Diagnostic, source: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}[{} {}]: {}",
        diagnostic.severity.as_str(),
        diagnostic.code.code,
        diagnostic.code.slug,
        diagnostic.message
    );
    let file = diagnostic.file.as_deref().unwrap_or("<pack>");
    match diagnostic.span {
        Some(span) => {
            let _ = writeln!(
                out,
                "  --> {file}:{}:{}",
                span.start.line, span.start.column
            );
            if let Some(line_text) =
                source.and_then(|s| s.lines().nth(span.start.line as usize - 1))
            {
                let gutter = span.start.line.to_string();
                let pad = " ".repeat(gutter.len());
                let start = span.start.column.max(1) as usize - 1;
                let width = if span.end.line == span.start.line {
                    (span.end.column as usize).saturating_sub(span.start.column as usize)
                } else {
                    line_text.chars().count().saturating_sub(start)
                }
                .max(1);
                let indent: String = line_text
                    .chars()
                    .take(start)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{gutter} | {line_text}");
                let _ = writeln!(out, "{pad} | {indent}{}", "^".repeat(width));
            }
        }
        None => {
            let _ = writeln!(out, "  --> {file}");
        }
    }
    for label in &diagnostic.labels {
        let _ = writeln!(
            out,
            "  = {}:{}:{}: {}",
            file, label.span.start.line, label.span.start.column, label.message
        );
    }
    for note in &diagnostic.notes {
        let _ = writeln!(out, "  = note: {note}");
    }
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out
}

/// The JSON object of one diagnostic (DESIGN §6; fields are only ever added).
pub fn to_json(diagnostic: &Diagnostic) -> Value {
    let (line, column, end_line, end_column) = match diagnostic.span {
        Some(s) => (
            Some(s.start.line),
            Some(s.start.column),
            Some(s.end.line),
            Some(s.end.column),
        ),
        None => (None, None, None, None),
    };
    json!({
        "severity": match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "code": diagnostic.code.code,
        "message": diagnostic.message,
        "file": diagnostic.file,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "slug": diagnostic.code.slug,
        "notes": diagnostic.notes,
        "help": diagnostic.help,
    })
}
