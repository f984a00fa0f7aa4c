//! `rulec replay`.

use crate::OutputFormat;
use crate::run::BuildArgs;
use anyhow::Context as _;
use rulec_driver::Project;
use rulec_exec::replay::{ReplayReport, ReplayShow};
use rulec_exec::{Location, RunOptions};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `rulec replay`'s options.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The product's directory, `OUT/PRODUCT`.
    pub product: PathBuf,
    /// The pack the product was built from (default: the directory holding OUT, as for a
    /// pack's default output `out/`).
    #[arg(long)]
    pub pack: Option<PathBuf>,
    /// Read input paths relative to this directory instead of the pack (as the run did
    /// with `--data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub build: BuildArgs,
    /// Print the physical plan the stored plan becomes.
    #[arg(long)]
    pub explain: bool,
    /// With --explain: the operators' metrics of the replay too.
    #[arg(long, requires = "explain")]
    pub analyze: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let product_dir = args.product.components().collect::<PathBuf>();
    let Some(product) = product_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        eprintln!(
            "rulec: `{}` names no product directory",
            args.product.display()
        );
        return Ok(ExitCode::from(2));
    };
    let out = match product_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(pack_root) = args.pack.clone().or_else(|| pack_beside(&out)) else {
        eprintln!(
            "rulec: cannot tell which pack built `{}`: pass --pack DIR",
            product_dir.display()
        );
        return Ok(ExitCode::from(2));
    };
    let project = Project::load(&pack_root)?;
    let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) else {
        eprint!("{}", project.render(&project.all_diagnostics()));
        return Ok(ExitCode::from(1));
    };
    let profile = match args.build.profile(&project, pack) {
        Ok(profile) => profile,
        Err(code) => return Ok(code),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(rulec_compile::PLANNING_STACK)
        .build()
        .context("cannot start the async runtime")?;
    let out_location = Location::Local(out.clone());
    let lock = runtime.block_on(rulec_exec::lock_location(&out_location, true, || {
        eprintln!(
            "rulec: waiting for another run to release `{}`",
            out.display()
        );
    }));
    let lock = match lock {
        Ok(lock) => lock,
        Err(d) => {
            eprint!("{}", project.render(&[d]));
            return Ok(ExitCode::from(2));
        }
    };
    let mut options = RunOptions::new(pack_root.clone(), out_location, profile);
    options.data_dir = args.data.clone();
    options.input_identity = args.build.input_identity();
    let show = ReplayShow {
        explain: args.explain,
        analyze: args.analyze,
    };
    let lineage = rulec_lineage::PackLineage::build(pack, compiled);
    let report = runtime.block_on(async {
        let report =
            rulec_exec::replay::replay(pack, compiled, &lineage, &options, &product, show).await;
        lock.release().await;
        report
    });
    if args.format == OutputFormat::Json {
        println!("{}", json_report(&report));
    } else {
        print_report(&report, &product_dir);
        if !report.diagnostics.is_empty() {
            eprint!("{}", project.render(&report.diagnostics));
        }
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The pack whose default output `out/` holds `out`: its parent, if that is a pack.
fn pack_beside(out: &Path) -> Option<PathBuf> {
    let parent = std::fs::canonicalize(out).ok()?.parent()?.to_path_buf();
    parent.join("pack.yaml").is_file().then_some(parent)
}

fn print_report(report: &ReplayReport, dir: &Path) {
    for (i, plan) in report.physical_plans.iter().enumerate() {
        if report.physical_plans.len() > 1 {
            println!("--- physical plan, slice {}", i + 1);
        } else {
            println!("--- physical plan");
        }
        print!("{plan}");
    }
    if !report.metrics.is_empty() {
        println!("--- operators");
        println!(
            "{:<48}  {:>12}  {:>12}  {:>12}",
            "operator", "rows", "compute ms", "spilled"
        );
        for m in &report.metrics {
            let name = format!("{}{}", "  ".repeat(m.depth), m.operator);
            let number = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
            println!(
                "{name:<48}  {:>12}  {:>12}  {:>12}",
                number(m.output_rows),
                number(m.elapsed_compute_ns.map(|ns| ns / 1_000_000)),
                number(m.spilled_bytes)
            );
        }
    }
    if report.succeeded() {
        let files = if report.files_compared > 0 {
            format!(", its {} files byte for byte", report.files_compared)
        } else {
            String::new()
        };
        println!(
            "replayed `{}` from {}: {} rows as recorded{files}",
            report.product,
            dir.join(report.plan_file.as_deref().unwrap_or("?"))
                .display(),
            report.rows.unwrap_or_default(),
        );
    }
}

fn json_report(report: &ReplayReport) -> serde_json::Value {
    json!({
        "product": report.product,
        "succeeded": report.succeeded(),
        "plan": report.plan_file,
        "rows": report.rows,
        "expected_rows": report.expected_rows,
        "refused": report.refused,
        "expected_refused": report.expected_refused,
        "files_compared": report.files_compared,
        "physical_plans": report.physical_plans,
        "metrics": report.metrics,
        "diagnostics": report
            .diagnostics
            .iter()
            .map(rulec_diagnostics::to_json)
            .collect::<Vec<_>>(),
    })
}
