//! `rulec lineage`.

use rulec_driver::Project;
use rulec_lineage::{Direction, Format, LineageQuery, PackLineage, render};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

pub fn run(
    root: &Path,
    target: Option<String>,
    downstream: bool,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let project = Project::load(root)?;
    let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) else {
        eprint!("{}", project.render(&project.all_diagnostics()));
        return Ok(ExitCode::from(1));
    };
    // Lineage covers the rules that compile; the others are reported, not guessed at.
    let broken: Vec<&str> = compiled
        .rules
        .iter()
        .filter(|r| r.plan.is_none())
        .map(|r| r.name.as_str())
        .collect();
    let lineage = PackLineage::build(pack, compiled);
    let query = LineageQuery {
        target,
        direction: if downstream {
            Direction::Downstream
        } else {
            Direction::Upstream
        },
    };
    match render(&lineage, &query, format) {
        Ok(text) => {
            std::io::stdout().lock().write_all(text.as_bytes())?;
            if broken.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "rulec: not in the lineage, they do not compile: {} (see `rulec check`)",
                    broken.join(", ")
                );
                Ok(ExitCode::from(1))
            }
        }
        Err(message) => {
            eprintln!("rulec: {message}");
            Ok(ExitCode::from(2))
        }
    }
}
