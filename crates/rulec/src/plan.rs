//! `rulec plan`.

use crate::{PlanFormat, Show};
use anyhow::{Context as _, bail};
use rulec_driver::Project;
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use rulec_compile::canonical_sql_for;
use rulec_syntax::SqlDialect;

pub fn run(
    root: &Path,
    rule: Option<&str>,
    format: PlanFormat,
    show: Show,
    output: Option<&Path>,
    dialect: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let dialect = match dialect {
        None => SqlDialect::DataFusion,
        Some(name) => match SqlDialect::from_name(name) {
            Some(d) => d,
            None => {
                eprintln!(
                    "rulec: unknown dialect `{name}` (known: {})",
                    SqlDialect::names().join(", ")
                );
                return Ok(ExitCode::from(2));
            }
        },
    };
    let project = Project::load(root)?;
    let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) else {
        eprint!("{}", project.render(&project.all_diagnostics()));
        return Ok(ExitCode::from(1));
    };
    let names: Vec<String> = match rule {
        Some(name) => {
            if pack.rule(name).is_none() {
                eprintln!("{}", rulec_driver::no_such_rule(pack, name));
                return Ok(ExitCode::from(2));
            }
            vec![name.to_owned()]
        }
        None => pack.rules.iter().map(|r| r.name.clone()).collect(),
    };
    // Binary plans of several rules: one `<rule>.substrait` each in the output directory.
    let binary_dir = (format == PlanFormat::Binary && names.len() != 1)
        .then(|| output.filter(|p| p.is_dir()))
        .map(|dir| {
            dir.ok_or_else(|| {
                anyhow::anyhow!(
                    "--format binary writes one plan to a file (name the rule) or every rule's to a directory (--output DIR, which exists)"
                )
            })
        })
        .transpose()?;

    let mut failed = false;
    let mut json_rules = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for name in &names {
        let c = compiled.rule(name).context("compiled rule")?;
        let Some(plan) = &c.plan else {
            let diags: Vec<_> = project
                .all_diagnostics()
                .into_iter()
                .filter(|d| d.file.as_deref() == Some(c.file.as_str()))
                .collect();
            eprint!("{}", project.render(&diags));
            eprintln!("rulec: rule `{name}` does not compile");
            failed = true;
            continue;
        };
        let substrait = rulec_substrait::to_substrait(plan);
        match format {
            PlanFormat::Binary => {
                let substrait = substrait.map_err(|e| anyhow::anyhow!("rule `{name}`: {e}"))?;
                let bytes = rulec_substrait::encode(&substrait);
                if let Some(dir) = binary_dir {
                    let path = dir.join(format!("{name}.substrait"));
                    std::fs::write(&path, &bytes)
                        .with_context(|| format!("cannot write `{}`", path.display()))?;
                    continue;
                }
                match output {
                    Some(path) => std::fs::write(path, &bytes)
                        .with_context(|| format!("cannot write `{}`", path.display()))?,
                    None => {
                        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                            bail!(
                                "refusing to write binary Substrait to a terminal: use --output FILE or redirect"
                            );
                        }
                        stdout.write_all(&bytes)?;
                    }
                }
            }
            PlanFormat::Text => {
                writeln!(stdout, "=== rule {name}")?;
                writeln!(
                    stdout,
                    "fingerprint: {}",
                    c.fingerprint.as_deref().unwrap_or("-")
                )?;
                if matches!(show, Show::Sql | Show::All) {
                    if dialect == SqlDialect::DataFusion {
                        writeln!(stdout, "\n--- canonical SQL")?;
                    } else {
                        writeln!(stdout, "\n--- canonical SQL ({})", dialect.name())?;
                    }
                    match canonical_sql_for(pack, compiled, name, dialect) {
                        Ok(printed) => {
                            for note in &printed.unsupported {
                                writeln!(stdout, "-- not {} SQL: {note}", dialect.name())?;
                            }
                            writeln!(stdout, "{}", printed.sql)?;
                        }
                        Err(why) => writeln!(stdout, "(cannot be printed as SQL: {why})")?,
                    }
                }
                if matches!(show, Show::Logical | Show::All) {
                    writeln!(stdout, "\n--- optimized logical plan")?;
                    writeln!(stdout, "{}", plan.display_indent_schema())?;
                }
                if show == Show::Passes {
                    writeln!(stdout, "\n--- passes")?;
                    if let Some(initial) = &c.initial_plan {
                        write!(stdout, "{}", passes(initial)?)?;
                    }
                }
                if matches!(show, Show::Substrait | Show::All) {
                    writeln!(stdout, "\n--- substrait")?;
                    match &substrait {
                        Ok(s) => write!(stdout, "{}", rulec_substrait::plan_to_text(s))?,
                        Err(e) => {
                            writeln!(stdout, "({e})")?;
                            failed = true;
                        }
                    }
                }
                writeln!(stdout)?;
            }
            PlanFormat::Json => {
                let sql = canonical_sql_for(pack, compiled, name, dialect);
                let substrait_json: Value = match &substrait {
                    Ok(s) => serde_json::from_str(&rulec_substrait::plan_to_json(s))?,
                    Err(e) => {
                        failed = true;
                        json!({"error": e.to_string()})
                    }
                };
                json_rules.push(json!({
                    "name": name,
                    "fingerprint": c.fingerprint,
                    "canonical_sql": sql.as_ref().ok().map(|s| &s.sql),
                    "canonical_sql_unsupported": sql.as_ref().ok().map(|s| &s.unsupported),
                    "canonical_sql_error": sql.as_ref().err(),
                    "logical_plan": plan.display_indent_schema().to_string(),
                    "substrait": substrait_json,
                }));
            }
        }
    }
    if format == PlanFormat::Json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(
                &json!({"pack": pack.manifest.name, "rules": json_rules})
            )?
        )?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The pipeline's description (passes in order, options, its hash), then the pipeline run
/// again on the initial plan, pass by pass: each pass that changed the plan with a unified
/// diff of the plan's rendering, then the passes that changed nothing.
/// Optimizer passes run up to `max_passes` times; repeats are numbered.
fn passes(initial: &rulec_compile::datafusion_expr::LogicalPlan) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let pipeline = rulec_compile::Pipeline::new();
    let mut steps: Vec<(String, String)> = Vec::new();
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    pipeline
        .run(initial.clone(), |name, plan| {
            let round = seen.entry(name.to_owned()).or_insert(0);
            *round += 1;
            let label = if *round == 1 {
                name.to_owned()
            } else {
                format!("{name} (round {round})")
            };
            steps.push((label, plan.display_indent().to_string()));
        })
        .map_err(|e| {
            anyhow::anyhow!("the pipeline failed: {}", rulec_compile::clean_message(&e))
        })?;
    // The pipeline itself first: name and version, engine, passes in order, options.
    let mut out = pipeline.description().join("\n");
    let _ = writeln!(out, "\ndescription {}", pipeline.description_hash());
    let mut before = initial.display_indent().to_string();
    let mut unchanged = Vec::new();
    for (label, after) in steps {
        if after == before {
            unchanged.push(label);
            continue;
        }
        let diff = similar::TextDiff::from_lines(&before, &after);
        let _ = writeln!(out, "\n{label}: changed");
        for change in diff.iter_all_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => "-",
                similar::ChangeTag::Insert => "+",
                similar::ChangeTag::Equal => " ",
            };
            let _ = write!(out, "  {sign} {change}");
        }
        before = after;
    }
    let _ = writeln!(out, "\nunchanged: {}", unchanged.join(", "));
    Ok(out)
}
