//! SARIF 2.1.0: the format code-scanning services read. One run; the tool's rules are the
//! whole code registry (rule ids = diagnostic codes, with their explanations as help).

use crate::{Diagnostic, Severity, codes};
use serde::Serialize;

/// A SARIF 2.1.0 log: the parts of the format rulec writes.
#[derive(Debug, Clone, Serialize)]
pub struct SarifLog {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub version: &'static str,
    pub runs: Vec<SarifRun>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRun {
    pub tool: SarifTool,
    pub column_kind: &'static str,
    pub results: Vec<SarifResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SarifTool {
    pub driver: SarifDriver,
}

#[derive(Debug, Clone, Serialize)]
pub struct SarifDriver {
    pub name: &'static str,
    pub version: String,
    pub rules: Vec<SarifRule>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRule {
    pub id: &'static str,
    pub name: &'static str,
    pub short_description: SarifText,
    pub full_description: SarifText,
    pub help: SarifText,
    pub default_configuration: SarifConfiguration,
}

#[derive(Debug, Clone, Serialize)]
pub struct SarifText {
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SarifConfiguration {
    pub level: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    pub rule_id: &'static str,
    pub rule_index: usize,
    pub level: &'static str,
    pub message: SarifText,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<SarifLocation>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifLocation {
    pub physical_location: SarifPhysicalLocation,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifPhysicalLocation {
    pub artifact_location: SarifArtifact,
    pub region: SarifRegion,
}

#[derive(Debug, Clone, Serialize)]
pub struct SarifArtifact {
    pub uri: String,
}

/// Lines and columns are 1-based; a finding without a span points at line 1.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRegion {
    pub start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
}

/// A SARIF 2.1.0 log of `diagnostics`. Their `file` must already be the path to show
/// (relative to where the tool ran, with `/` separators). Columns are Unicode code points,
/// as the run's `columnKind` says.
pub fn to_sarif(diagnostics: &[Diagnostic], tool_version: &str) -> SarifLog {
    let rules = codes::ALL
        .iter()
        .map(|code| SarifRule {
            id: code.code,
            name: code.slug,
            short_description: SarifText {
                text: code.summary.to_owned(),
            },
            full_description: SarifText {
                text: code.explanation.to_owned(),
            },
            help: SarifText {
                text: code.explanation.to_owned(),
            },
            default_configuration: SarifConfiguration {
                level: code.default_severity().as_str(),
            },
        })
        .collect();
    let results = diagnostics
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            for note in &d.notes {
                message.push_str("\nnote: ");
                message.push_str(note);
            }
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let region = match d.span {
                Some(s) => SarifRegion {
                    start_line: s.start.line,
                    start_column: Some(s.start.column),
                    end_line: Some(s.end.line),
                    end_column: Some(s.end.column.max(s.start.column + 1)),
                },
                None => SarifRegion {
                    start_line: 1,
                    start_column: None,
                    end_line: None,
                    end_column: None,
                },
            };
            SarifResult {
                rule_id: d.code.code,
                rule_index: codes::ALL.iter().position(|c| *c == d.code).unwrap_or(0),
                level: match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                message: SarifText { text: message },
                locations: d
                    .file
                    .iter()
                    .map(|file| SarifLocation {
                        physical_location: SarifPhysicalLocation {
                            artifact_location: SarifArtifact {
                                uri: file.replace('\\', "/"),
                            },
                            region: region.clone(),
                        },
                    })
                    .collect(),
            }
        })
        .collect();
    SarifLog {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: vec![SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "rulec",
                    version: tool_version.to_owned(),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}
