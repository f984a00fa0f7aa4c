//! SARIF 2.1.0: the format code-scanning services read. One run; the tool's rules are the
//! whole code registry (rule ids = diagnostic codes, with their explanations as help).

use crate::{Diagnostic, Severity, codes};
use serde_json::{Value, json};

/// A SARIF 2.1.0 log of `diagnostics`. Their `file` must already be the path to show
/// (relative to where the tool ran, with `/` separators). Columns are Unicode code points,
/// as the run's `columnKind` says.
pub fn to_sarif(diagnostics: &[Diagnostic], tool_version: &str) -> Value {
    let rules: Vec<Value> = codes::ALL
        .iter()
        .map(|code| {
            let level = code.default_severity().as_str();
            json!({
                "id": code.code,
                "name": code.slug,
                "shortDescription": {"text": code.summary},
                "fullDescription": {"text": code.explanation},
                "help": {"text": code.explanation},
                "defaultConfiguration": {"level": level},
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let rule_index = codes::ALL.iter().position(|c| *c == d.code).unwrap_or(0);
            let mut message = d.message.clone();
            for note in &d.notes {
                message.push_str("\nnote: ");
                message.push_str(note);
            }
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let mut result = json!({
                "ruleId": d.code.code,
                "ruleIndex": rule_index,
                "level": match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "message": {"text": message},
            });
            if let Some(file) = &d.file {
                let region = match d.span {
                    Some(s) => json!({
                        "startLine": s.start.line,
                        "startColumn": s.start.column,
                        "endLine": s.end.line,
                        "endColumn": s.end.column.max(s.start.column + 1),
                    }),
                    None => json!({"startLine": 1}),
                };
                result["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": file.replace('\\', "/")},
                        "region": region,
                    }
                }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rulec",
                "version": tool_version,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}
