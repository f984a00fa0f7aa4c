//! Renderings of diagnostics: a human form and the JSON form of DESIGN §6.

use crate::{Diagnostic, Severity, Span};
use annotate_snippets::{AnnotationKind, Element, Level, Origin, Renderer, Snippet};
use serde::Serialize;
use serde_json::Value;

/// Renders one diagnostic for people, rustc-style: a header with the code, the location,
/// the source lines with the span underlined when `source` (the file's text) is given,
/// secondary labels, notes and help. `color` adds ANSI styles (for terminals only).
pub fn render_human(diagnostic: &Diagnostic, source: Option<&str>, color: bool) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let id = format!("{} {}", diagnostic.code.code, diagnostic.code.slug);
    let title = level
        .primary_title(diagnostic.message.as_str())
        .id(id.as_str());
    let file = diagnostic.file.as_deref().unwrap_or("<pack>");
    let primary = match (source, diagnostic.span) {
        (Some(text), Some(span)) => to_range(text, span).map(|range| {
            let mut snippet = Snippet::source(text)
                .path(file)
                .annotation(AnnotationKind::Primary.span(range));
            for label in &diagnostic.labels {
                if let Some(r) = to_range(text, label.span) {
                    snippet = snippet.annotation(
                        AnnotationKind::Context
                            .span(r)
                            .label(label.message.as_str()),
                    );
                }
            }
            Element::from(snippet)
        }),
        _ => None,
    };
    let mut group = match primary {
        Some(snippet) => title.element(snippet),
        None => {
            let mut origin = Origin::path(file);
            if let Some(span) = diagnostic.span {
                origin = origin
                    .line(span.start.line as usize)
                    .char_column(span.start.column as usize);
            }
            title.element(origin)
        }
    };
    let label_notes: Vec<String> = if source.is_some() && diagnostic.span.is_some() {
        Vec::new()
    } else {
        diagnostic
            .labels
            .iter()
            .map(|l| {
                format!(
                    "{file}:{}:{}: {}",
                    l.span.start.line, l.span.start.column, l.message
                )
            })
            .collect()
    };
    for note in label_notes.iter().chain(&diagnostic.notes) {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = renderer.render(&[group]);
    out.push('\n');
    out
}

/// The byte range of `span` (1-based lines, columns in characters, end exclusive) in `text`.
fn to_range(text: &str, span: Span) -> Option<std::ops::Range<usize>> {
    let offset = |line: u32, column: u32| -> Option<usize> {
        let mut start = 0usize;
        for (i, l) in text.split_inclusive('\n').enumerate() {
            if i + 1 == line as usize {
                let content = l.trim_end_matches(['\n', '\r']);
                let byte = content
                    .char_indices()
                    .nth((column as usize).saturating_sub(1))
                    .map_or(content.len(), |(b, _)| b);
                return Some(start + byte);
            }
            start += l.len();
        }
        (line as usize == text.split_inclusive('\n').count() + 1).then_some(text.len())
    };
    let start = offset(span.start.line, span.start.column)?;
    let end = offset(span.end.line, span.end.column)
        .unwrap_or(start)
        .max(start);
    Some(
        start
            ..end
                .max(start + usize::from(start < text.len()))
                .min(text.len()),
    )
}

/// One diagnostic in `rulec check --format json` (DESIGN §6: a public interface, whose
/// fields are only ever added). Lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub end_line: Option<u32>,
    pub end_column: Option<u32>,
    pub slug: &'static str,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl From<&Diagnostic> for JsonDiagnostic {
    fn from(diagnostic: &Diagnostic) -> Self {
        let span = diagnostic.span;
        JsonDiagnostic {
            severity: diagnostic.severity,
            code: diagnostic.code.code,
            message: diagnostic.message.clone(),
            file: diagnostic.file.clone(),
            line: span.map(|s| s.start.line),
            column: span.map(|s| s.start.column),
            end_line: span.map(|s| s.end.line),
            end_column: span.map(|s| s.end.column),
            slug: diagnostic.code.slug,
            notes: diagnostic.notes.clone(),
            help: diagnostic.help.clone(),
        }
    }
}

/// The JSON value of one diagnostic ([`JsonDiagnostic`]).
pub fn to_json(diagnostic: &Diagnostic) -> Value {
    serde_json::to_value(JsonDiagnostic::from(diagnostic)).unwrap_or(Value::Null)
}
