//! `rulec run`.

use crate::project::Project;
use anyhow::Context as _;
use rulec_exec::{ProductStatus, RunOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(
    root: &Path,
    data: Option<PathBuf>,
    out: Option<PathBuf>,
    only: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let project = Project::load(root)?;
    let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) else {
        eprint!("{}", project.render(&project.all_diagnostics()));
        return Ok(ExitCode::from(1));
    };
    for name in &only {
        if pack.rule(name).is_none() {
            eprintln!("rulec: no rule `{name}` in pack `{}`", pack.manifest.name);
            return Ok(ExitCode::from(2));
        }
    }
    let errors: Vec<_> = project
        .all_diagnostics()
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    if !errors.is_empty() {
        eprint!("{}", project.render(&errors));
        eprintln!("rulec: the pack has errors; building what compiles");
    }
    let out_dir = out.unwrap_or_else(|| root.join(&pack.manifest.output));
    let options = RunOptions {
        pack_root: root.to_path_buf(),
        data_dir: data,
        out_dir: out_dir.clone(),
        only,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(rulec_exec::run(pack, compiled, &options));
    if !report.diagnostics.is_empty() {
        eprint!("{}", project.render(&report.diagnostics));
    }
    let width = report
        .products
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<width$}  {:>10}  {:>5}  {:>9}  status",
        "product", "rows", "files", "time"
    );
    let mut failures = Vec::new();
    for product in &report.products {
        match &product.status {
            ProductStatus::Built {
                rows,
                files,
                elapsed,
            } => println!(
                "{:<width$}  {rows:>10}  {files:>5}  {:>8.3}s  built",
                product.name,
                elapsed.as_secs_f64()
            ),
            ProductStatus::Failed(d) => {
                println!(
                    "{:<width$}  {:>10}  {:>5}  {:>9}  failed",
                    product.name, "-", "-", "-"
                );
                failures.push(d.clone());
            }
            ProductStatus::Skipped(d) => {
                println!(
                    "{:<width$}  {:>10}  {:>5}  {:>9}  skipped",
                    product.name, "-", "-", "-"
                );
                failures.push(d.clone());
            }
        }
    }
    if !failures.is_empty() {
        eprint!("{}", project.render(&failures));
    }
    println!("products in {}", out_dir.display());
    Ok(if report.succeeded() && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
