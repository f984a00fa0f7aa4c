//! The `rulec check --format json` report (DESIGN §6), as typed structs.

use crate::Project;
use rulec_contract::render_type;
use rulec_diagnostics::{Diagnostic, JsonDiagnostic};
use serde::Serialize;
use std::collections::BTreeSet;

/// One pack's report: `{pack, rules: [...], diagnostics: [...]}`. Diagnostics about a rule's
/// file sit under that rule; the rest at the top level. A public interface: fields are
/// only ever added.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The pack's name (none when pack.yaml cannot be read).
    pub pack: Option<String>,
    pub rules: Vec<RuleReport>,
    pub diagnostics: Vec<JsonDiagnostic>,
}

/// One rule that was checked.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub name: String,
    /// The rule file's path as the pack was named.
    pub path: String,
    /// `sha256:<hex>` query fingerprint (none when the rule does not compile).
    pub fingerprint: Option<String>,
    pub schema_fingerprint: Option<String>,
    pub output_schema: Vec<ColumnReport>,
    pub diagnostics: Vec<JsonDiagnostic>,
}

/// One column of a rule's output schema.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnReport {
    pub name: String,
    /// In the contract type grammar (`list<struct<...>>`).
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
}

pub(crate) fn check_report(project: &Project, diagnostics: &[Diagnostic]) -> CheckReport {
    let shown = |d: &Diagnostic| {
        let mut json = JsonDiagnostic::from(d);
        json.file = d.file.as_deref().map(|f| project.display_path(f));
        json
    };
    let mut rules = Vec::new();
    let mut rule_files = BTreeSet::new();
    if let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) {
        for rule in &pack.rules {
            let Some(c) = compiled.rule(&rule.name) else {
                continue;
            };
            rule_files.insert(rule.file.as_str());
            rules.push(RuleReport {
                name: rule.name.clone(),
                path: project.display_path(&rule.file),
                fingerprint: c.fingerprint.clone(),
                schema_fingerprint: c.schema_fingerprint.clone(),
                output_schema: c
                    .output_schema
                    .iter()
                    .flat_map(|s| s.fields().iter())
                    .map(|f| ColumnReport {
                        name: f.name().clone(),
                        data_type: render_type(f.data_type()),
                        nullable: f.is_nullable(),
                    })
                    .collect(),
                diagnostics: diagnostics
                    .iter()
                    .filter(|d| d.file.as_deref() == Some(rule.file.as_str()))
                    .map(shown)
                    .collect(),
            });
        }
    }
    CheckReport {
        pack: project.pack.as_ref().map(|p| p.manifest.name.clone()),
        rules,
        diagnostics: diagnostics
            .iter()
            .filter(|d| d.file.as_deref().is_none_or(|f| !rule_files.contains(f)))
            .map(shown)
            .collect(),
    }
}
