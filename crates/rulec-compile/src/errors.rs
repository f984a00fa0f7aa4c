//! DataFusion errors as rulec diagnostics: a code, the engine's message, and a span where
//! the engine gives one.

use datafusion_common::{DataFusionError, SchemaError};
use rulec_diagnostics::{Code, Diagnostic, Span, codes};

/// An operator applied to operands of types it does not take: the operator as SQL writes
/// it, both types, and the span of the left operand when the engine knows it.
pub struct OperatorMismatch {
    pub op: String,
    pub left: String,
    pub right: String,
    pub left_span: Option<Span>,
}

/// The operator mismatch `err` reports, if it is one. DataFusion's diagnostic says only
/// "expressions have incompatible types", with each operand's type as a note; its error
/// message names the operator between the two types.
pub fn operator_mismatch(err: &DataFusionError) -> Option<OperatorMismatch> {
    let d = err.diagnostic()?;
    if d.message != "expressions have incompatible types" {
        return None;
    }
    let [left, right] = d.notes.as_slice() else {
        return None;
    };
    let left_type = left.message.strip_prefix("has type ")?;
    let right_type = right.message.strip_prefix("has type ")?;
    let message = clean_message(err.find_root());
    let pattern_start = format!("{left_type} ");
    let pattern_end = format!(" {right_type}");
    let from = message.find(&pattern_start)? + pattern_start.len();
    let to = message[from..].find(&pattern_end)? + from;
    let op = message[from..to].trim();
    if op.is_empty() || op.contains(' ') {
        return None;
    }
    Some(OperatorMismatch {
        op: op.to_owned(),
        left: left_type.to_owned(),
        right: right_type.to_owned(),
        left_span: left.span.and_then(to_span),
    })
}

/// Converts a planning error into a diagnostic for `file`.
pub fn plan_error_diagnostic(file: &str, err: &DataFusionError) -> Diagnostic {
    let root = err.find_root();
    let code = classify(root);
    if let Some(mismatch) = operator_mismatch(err) {
        return Diagnostic::error(
            codes::TYPE_MISMATCH,
            format!(
                "operator `{}` cannot be applied to {} and {}",
                mismatch.op, mismatch.left, mismatch.right
            ),
        )
        .in_file(file)
        .at_opt(err.diagnostic().and_then(|d| d.span).and_then(to_span));
    }
    let (message, span, notes) = match err.diagnostic() {
        Some(d) => (
            d.message.clone(),
            d.span.and_then(to_span),
            d.notes
                .iter()
                .map(|n| n.message.clone())
                .chain(d.helps.iter().map(|h| h.message.clone()))
                .collect::<Vec<_>>(),
        ),
        None => (clean_message(root), None, Vec::new()),
    };
    // Engine messages can run over several lines (candidate signatures): the first line is
    // the message, the rest one note.
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut diagnostic = Diagnostic::error(code, first).in_file(file).at_opt(span);
    if !rest.is_empty() {
        diagnostic = diagnostic.with_note(rest.join(" "));
    }
    for note in notes {
        diagnostic = diagnostic.with_note(note);
    }
    diagnostic
}

fn classify(err: &DataFusionError) -> Code {
    match err {
        DataFusionError::SchemaError(e, _) => match e.as_ref() {
            SchemaError::FieldNotFound { .. } => codes::UNKNOWN_COLUMN,
            SchemaError::AmbiguousReference { .. } => codes::AMBIGUOUS_COLUMN,
            _ => codes::PLAN_ERROR,
        },
        DataFusionError::NotImplemented(_) => codes::UNSUPPORTED_SQL,
        DataFusionError::Internal(_) => codes::INTERNAL_ERROR,
        _ => classify_message(&err.to_string()),
    }
}

fn classify_message(m: &str) -> Code {
    if m.contains("not found") && m.contains("table '") {
        codes::UNKNOWN_TABLE
    } else if m.contains("Invalid function") {
        codes::UNKNOWN_FUNCTION
    } else if m.contains("not found in struct") {
        codes::UNKNOWN_COLUMN
    } else if m.contains("must appear in the GROUP BY clause") {
        codes::NON_AGGREGATED_COLUMN
    } else if m.contains("different number of columns") {
        codes::UNION_COLUMN_COUNT
    } else if m.contains("coerc")
        || m.contains("Cannot infer common")
        || m.contains("compatible types")
        || m.contains("Incompatible inputs for Union")
        || m.contains("No function matches the given name and argument types")
        || (m.contains("does not support") && m.contains("type"))
    {
        codes::TYPE_MISMATCH
    } else {
        codes::PLAN_ERROR
    }
}

/// The engine's message without its error-kind prefix and backtrace.
pub fn clean_message(err: &DataFusionError) -> String {
    const PREFIXES: [&str; 5] = [
        "Error during planning: ",
        "Schema error: ",
        "This feature is not implemented: ",
        "Internal error: ",
        "Execution error: ",
    ];
    let text = err.strip_backtrace();
    let mut rest = text.as_str();
    while let Some(stripped) = PREFIXES.iter().find_map(|p| rest.strip_prefix(p)) {
        rest = stripped;
    }
    rest.to_owned()
}

pub(crate) fn to_span(span: datafusion_common::Span) -> Option<Span> {
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    if span.start.line == 0 {
        return None;
    }
    Some(Span::new(
        clamp(span.start.line),
        clamp(span.start.column),
        clamp(span.end.line.max(span.start.line)),
        clamp(span.end.column.max(span.start.column + 1)),
    ))
}
