//! `rulec check`.

use crate::CheckFormat;
use crate::project::Project;
use rulec_contract::render_type;
use rulec_diagnostics::{codes, has_errors, to_json};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

pub fn explain(code: &str) -> anyhow::Result<ExitCode> {
    match codes::lookup(code) {
        Some(c) => {
            println!("{} {}: {}\n\n{}", c.code, c.slug, c.summary, c.explanation);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("rulec: unknown diagnostic code `{code}`");
            Ok(ExitCode::from(2))
        }
    }
}

pub fn run(root: &Path, format: CheckFormat) -> anyhow::Result<ExitCode> {
    let project = Project::load(root)?;
    let diagnostics = project.all_diagnostics();
    let failed = has_errors(&diagnostics);
    match format {
        CheckFormat::Human => {
            let mut stdout = std::io::stdout().lock();
            write!(stdout, "{}", project.render(&diagnostics))?;
            let rules = project.compiled.as_ref().map_or(0, |c| c.rules.len());
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = diagnostics.len() - errors;
            if diagnostics.is_empty() {
                eprintln!("rulec: {} checked, no problems", plural(rules, "rule"));
            } else {
                eprintln!(
                    "rulec: {} checked: {}, {}",
                    plural(rules, "rule"),
                    plural(errors, "error"),
                    plural(warnings, "warning")
                );
            }
        }
        CheckFormat::Json => {
            let report = json_report(&project, &diagnostics);
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The DESIGN §6 report: `{pack, rules: [...], diagnostics: [...]}`. Diagnostics about a
/// rule's file sit under that rule; the rest at the top level.
fn json_report(project: &Project, diagnostics: &[rulec_diagnostics::Diagnostic]) -> Value {
    let shown = |d: &rulec_diagnostics::Diagnostic| {
        let mut v = to_json(d);
        v["file"] = json!(d.file.as_deref().map(|f| project.display_path(f)));
        v
    };
    let mut rules = Vec::new();
    let mut rule_files = std::collections::BTreeSet::new();
    if let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) {
        for rule in &pack.rules {
            let Some(c) = compiled.rule(&rule.name) else {
                continue;
            };
            rule_files.insert(rule.file.clone());
            let output_schema: Vec<Value> = c
                .output_schema
                .iter()
                .flat_map(|s| s.fields().iter())
                .map(|f| json!({"name": f.name(), "type": render_type(f.data_type()), "nullable": f.is_nullable()}))
                .collect();
            let rule_diags: Vec<Value> = diagnostics
                .iter()
                .filter(|d| d.file.as_deref() == Some(rule.file.as_str()))
                .map(shown)
                .collect();
            rules.push(json!({
                "name": rule.name,
                "path": project.display_path(&rule.file),
                "fingerprint": c.fingerprint,
                "schema_fingerprint": c.schema_fingerprint,
                "output_schema": output_schema,
                "diagnostics": rule_diags,
            }));
        }
    }
    let others: Vec<Value> = diagnostics
        .iter()
        .filter(|d| d.file.as_ref().is_none_or(|f| !rule_files.contains(f)))
        .map(shown)
        .collect();
    json!({
        "pack": project.pack.as_ref().map(|p| p.manifest.name.clone()),
        "rules": rules,
        "diagnostics": others,
    })
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
