//! `cargo xtask gen-data` and the `rulec run` benchmarks of `cargo xtask bench`.
//!
//! Data: TPC-H at a scale factor (tpchgen, cast to the pack's contracts) and the CPG pack's
//! data copied N times under new file ids, paths and symbols, both made by the release
//! `bench-tool` of `crates/rulec-bench`, under `<target>/bench/data/`.
//!
//! Measured, with `/usr/bin/time` for peak memory (maximum resident set size):
//! - TPC-H: `rulec run` from nothing, then a no-op `rulec run` (nothing changed), against
//!   the same SQL executed and written by a plain DataFusion `SessionContext`
//!   (`bench-tool direct … tables`);
//! - CPG ×N: `rulec run` against materializing every rule from views in one session
//!   (`bench-tool direct … views`, each product re-running its upstream chain); the same
//!   with the intermediate rules ephemeral; and, with the per-file inputs split into one
//!   file per source file (`bench-tool split-cpg`), a run after one source file's data is
//!   added, whose `incremental: append` products process only the new files.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where generated data lives, and the release helper that makes it.
pub struct Data {
    pub tpch: PathBuf,
    pub cpg: PathBuf,
    pub tool: PathBuf,
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the helper and generates the data sets that are not there yet (`force`: again).
pub fn gen_data(
    root: &Path,
    target: &Path,
    sf: f64,
    copies: u32,
    force: bool,
) -> anyhow::Result<Data> {
    let status = cargo()
        .args(["build", "--release", "-p", "rulec-bench"])
        .current_dir(root)
        .status()
        .context("cannot build bench-tool")?;
    if !status.success() {
        bail!("cargo build of bench-tool failed");
    }
    let tool = target.join("release/bench-tool");
    let base = target.join("bench/data");
    let data = Data {
        tpch: base.join(format!("tpch-sf{sf}")),
        cpg: base.join(format!("cpg-x{copies}")),
        tool,
    };
    for (dir, args) in [
        (&data.tpch, vec!["gen-tpch".to_owned(), sf.to_string()]),
        (&data.cpg, vec!["gen-cpg".to_owned(), copies.to_string()]),
    ] {
        if dir.join("pack.yaml").is_file() && !force {
            println!(
                "{} exists (gen-data --force to make it again)",
                dir.display()
            );
            continue;
        }
        let _ = std::fs::remove_dir_all(dir);
        let started = Instant::now();
        let status = Command::new(&data.tool)
            .args(&args)
            .arg(dir)
            .status()
            .context("cannot run bench-tool")?;
        if !status.success() {
            bail!("bench-tool {} failed", args.join(" "));
        }
        println!(
            "generated {} in {:.1}s",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(data)
}

/// Wall time and peak resident memory of one command.
struct Measured {
    wall: Duration,
    peak_mb: f64,
}

fn measure(program: &Path, args: &[&str]) -> anyhow::Result<Measured> {
    let report = std::env::temp_dir().join(format!("rulec-bench-time-{}", std::process::id()));
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(program)
        .args(args)
        .output()
        .context("cannot run /usr/bin/time (GNU time is needed for peak memory)")?;
    let wall = started.elapsed();
    if !output.status.success() {
        bail!(
            "{} {} failed:\n{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let kb: f64 = std::fs::read_to_string(&report)?
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .context("unreadable /usr/bin/time report")?;
    let _ = std::fs::remove_file(report);
    Ok(Measured {
        wall,
        peak_mb: kb / 1024.0,
    })
}

fn median(mut values: Vec<Measured>) -> Measured {
    values.sort_by_key(|m| m.wall);
    values.swap_remove(values.len() / 2)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// The `rulec run` benchmarks.
pub fn run_benchmark(rulec: &Path, data: &Data, runs: usize) -> anyhow::Result<()> {
    let out = data.tpch.join("out");
    let direct_out = data.tpch.join("out-direct");
    println!(
        "\nrulec run, TPC-H ({}), {runs} runs each:",
        data.tpch.display()
    );
    let mut full = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        full.push(measure(
            rulec,
            &["run", path(&data.tpch), "--out", path(&out)],
        )?);
        let _ = std::fs::remove_dir_all(&direct_out);
        direct.push(measure(
            &data.tool,
            &["direct", path(&data.tpch), path(&direct_out), "tables"],
        )?);
    }
    let mut noop = Vec::new();
    for _ in 0..runs.max(5) {
        noop.push(measure(
            rulec,
            &["run", path(&data.tpch), "--out", path(&out)],
        )?);
    }
    let (full, direct, noop) = (median(full), median(direct), median(noop));
    let s = |m: &Measured| m.wall.as_secs_f64();
    println!(
        "  rulec run (every product built):       median {:.2} s, peak {:.0} MB",
        s(&full),
        full.peak_mb
    );
    println!(
        "  DataFusion SessionContext, same SQL:   median {:.2} s, peak {:.0} MB",
        s(&direct),
        direct.peak_mb
    );
    println!(
        "  rulec / DataFusion: {:.3}x time ({:+.1} %), {:.2}x peak memory",
        s(&full) / s(&direct),
        (s(&full) / s(&direct) - 1.0) * 100.0,
        full.peak_mb / direct.peak_mb
    );
    println!(
        "  rulec run, nothing changed (no-op):    median {:.1} ms, peak {:.0} MB",
        noop.wall.as_secs_f64() * 1000.0,
        noop.peak_mb
    );

    let out = data.cpg.join("out");
    let views_out = data.cpg.join("out-views");
    println!(
        "\nrulec run, CPG ({}), every product, 1 run each:",
        data.cpg.display()
    );
    let _ = std::fs::remove_dir_all(&out);
    let rulec_run = measure(rulec, &["run", path(&data.cpg), "--out", path(&out)])?;
    let _ = std::fs::remove_dir_all(&views_out);
    let views = measure(
        &data.tool,
        &["direct", path(&data.cpg), path(&views_out), "views"],
    )?;
    let tables_out = data.cpg.join("out-tables");
    let _ = std::fs::remove_dir_all(&tables_out);
    let tables = measure(
        &data.tool,
        &["direct", path(&data.cpg), path(&tables_out), "tables"],
    )?;
    println!(
        "  DataFusion, each product written then read (as rulec): {:.2} s, peak {:.0} MB",
        s(&tables),
        tables.peak_mb
    );
    println!(
        "  rulec run:                              {:.2} s, peak {:.0} MB",
        s(&rulec_run),
        rulec_run.peak_mb
    );
    println!(
        "  views in one DataFusion session:        {:.2} s, peak {:.0} MB",
        s(&views),
        views.peak_mb
    );
    println!(
        "  views / rulec: {:.2}x time, {:.2}x peak memory",
        s(&views) / s(&rulec_run),
        views.peak_mb / rulec_run.peak_mb
    );
    // The same pack with its intermediate rules ephemeral (views rulec inlines into their
    // readers), against the views baseline.
    let ephemeral = ephemeral_pack(&data.cpg)?;
    let ephemeral_out = ephemeral.join("out");
    let _ = std::fs::remove_dir_all(&ephemeral_out);
    let ephemeral_run = measure(
        rulec,
        &["run", path(&ephemeral), "--out", path(&ephemeral_out)],
    )?;
    println!(
        "  rulec run, intermediates ephemeral ({}): {:.2} s, peak {:.0} MB",
        EPHEMERAL.join(", "),
        s(&ephemeral_run),
        ephemeral_run.peak_mb
    );
    println!(
        "  views / rulec with ephemeral intermediates: {:.2}x time, {:.2}x peak memory",
        s(&views) / s(&ephemeral_run),
        views.peak_mb / ephemeral_run.peak_mb
    );
    jobs_benchmark(rulec, data)?;
    append_benchmark(rulec, data)
}

/// Every product of TPC-H and of CPG ×N built with `--jobs 1` and `--jobs 2`, one run each.
fn jobs_benchmark(rulec: &Path, data: &Data) -> anyhow::Result<()> {
    println!("\nrulec run --jobs (every product built, one run each):");
    for pack in [&data.tpch, &data.cpg] {
        let out = pack.join("out-jobs");
        let mut measured = Vec::new();
        for jobs in ["1", "2"] {
            let _ = std::fs::remove_dir_all(&out);
            measured.push(measure(
                rulec,
                &["run", path(pack), "--out", path(&out), "--jobs", jobs],
            )?);
        }
        let s = |m: &Measured| m.wall.as_secs_f64();
        println!(
            "  {}: --jobs 1 {:.2} s, peak {:.0} MB; --jobs 2 {:.2} s, peak {:.0} MB ({:.2}x time, {:.2}x memory)",
            pack.file_name().unwrap_or_default().to_string_lossy(),
            s(&measured[0]),
            measured[0].peak_mb,
            s(&measured[1]),
            measured[1].peak_mb,
            s(&measured[1]) / s(&measured[0]),
            measured[1].peak_mb / measured[0].peak_mb
        );
    }
    Ok(())
}

/// TPC-H built whole, locally and on an in-process Ballista cluster (`--scheduler
/// standalone:N`) with 1 and 2 executors: wall time and peak memory (the cluster runs in the
/// measured process), median over `runs`. Local also with one partition per stage, as rulec
/// sends plans to Ballista.
pub fn ballista_benchmark(rulec: &Path, data: &Data, runs: usize) -> anyhow::Result<()> {
    let pack = &data.tpch;
    let out = pack.join("out-ballista");
    let configurations: [(&str, &[&str]); 4] = [
        ("local", &[]),
        (
            "local, 1 partition",
            &["--set", "datafusion.execution.target_partitions=1"],
        ),
        (
            "Ballista, 1 executor",
            &["--engine", "ballista", "--scheduler", "standalone:1"],
        ),
        (
            "Ballista, 2 executors",
            &["--engine", "ballista", "--scheduler", "standalone:2"],
        ),
    ];
    println!(
        "\nrulec run on TPC-H ({}), every product built, median of {runs}:",
        pack.display()
    );
    let mut results = Vec::new();
    for (name, extra) in configurations {
        let mut measured = Vec::new();
        for _ in 0..runs.max(1) {
            let _ = std::fs::remove_dir_all(&out);
            let mut args = vec!["run", path(pack), "--out", path(&out)];
            args.extend_from_slice(extra);
            measured.push(measure(rulec, &args)?);
        }
        let m = median(measured);
        println!(
            "  {name:<22} {:>7.2} s  peak {:>6.0} MB",
            m.wall.as_secs_f64(),
            m.peak_mb
        );
        results.push((name, m));
    }
    let local = &results[0].1;
    for (name, m) in &results[1..] {
        println!(
            "  {name} / local: {:.2}x time, {:.2}x peak memory",
            m.wall.as_secs_f64() / local.wall.as_secs_f64(),
            m.peak_mb / local.peak_mb
        );
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

/// Per product of a run: its name, its status and its seconds.
type ProductTimes = Vec<(String, String, f64)>;

/// Seconds per product of a `rulec run --format json` report, and each product's status.
fn product_seconds(report: &[u8]) -> anyhow::Result<ProductTimes> {
    let report: serde_json::Value = serde_json::from_slice(report)?;
    Ok(report["products"]
        .as_array()
        .context("no products in the report")?
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["status"].as_str().unwrap_or_default().to_owned(),
                p["seconds"].as_f64().unwrap_or(0.0),
            )
        })
        .collect())
}

/// The CPG ×N data split into one file per source file, a whole run, then one source file's
/// data added and a second run: its `incremental: append` products process the new files
/// only. Reports the append products' time in both runs, and both runs' wall time.
fn append_benchmark(rulec: &Path, data: &Data) -> anyhow::Result<()> {
    let split = data.cpg.with_file_name(format!(
        "{}-split",
        data.cpg
            .file_name()
            .map_or_else(|| "cpg".into(), |n| n.to_string_lossy())
    ));
    let status = Command::new(&data.tool)
        .args(["split-cpg", path(&data.cpg), path(&split)])
        .status()
        .context("cannot run bench-tool split-cpg")?;
    if !status.success() {
        bail!("bench-tool split-cpg failed");
    }
    let out = split.join("out");
    let json = |args: &[&str]| -> anyhow::Result<(Duration, ProductTimes)> {
        let started = Instant::now();
        let output = Command::new(rulec)
            .args(["run", path(&split), "--out", path(&out), "--format", "json"])
            .args(args)
            .output()?;
        let wall = started.elapsed();
        if !output.status.success() {
            bail!(
                "rulec run failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok((wall, product_seconds(&output.stdout)?))
    };
    let (whole_wall, whole) = json(&[])?;
    let mut added = 0;
    for table in ["libcst_files", "symtable_files"] {
        for entry in std::fs::read_dir(split.join("held-back").join(table))? {
            let file = entry?.path();
            std::fs::rename(
                &file,
                split
                    .join("data")
                    .join(table)
                    .join(file.file_name().unwrap_or_default()),
            )?;
            added += 1;
        }
    }
    let (append_wall, appended) = json(&[])?;
    let appended_products: Vec<&(String, String, f64)> = appended
        .iter()
        .filter(|(_, s, _)| s == "appended")
        .collect();
    if appended_products.is_empty() {
        bail!("no product was appended to: {appended:?}");
    }
    let seconds = |run: &[(String, String, f64)], names: &[&str]| -> f64 {
        run.iter()
            .filter(|(n, _, _)| names.contains(&n.as_str()))
            .map(|(_, _, s)| s)
            .sum()
    };
    let names: Vec<&str> = appended_products
        .iter()
        .map(|(n, _, _)| n.as_str())
        .collect();
    let (full, part) = (seconds(&whole, &names), seconds(&appended, &names));
    println!(
        "\nrulec run, CPG split into one file per source file ({}), {added} files added:",
        split.display()
    );
    println!(
        "  append products ({}): {:.3} s in the whole run, {:.3} s appended: {:.1} % of it",
        names.join(", "),
        full,
        part,
        part / full * 100.0
    );
    println!(
        "  whole run {:.2} s, run after the addition {:.2} s ({:.1} %; the products that aggregate rebuild whole)",
        whole_wall.as_secs_f64(),
        append_wall.as_secs_f64(),
        append_wall.as_secs_f64() / whole_wall.as_secs_f64() * 100.0
    );
    Ok(())
}

/// The CPG pack's intermediate rules: read by other rules, not products of their own.
const EPHEMERAL: &[&str] = &[
    "libcst_nodes",
    "libcst_edges",
    "scip_occurrence_spans",
    "cpg_bridge_cst_scip",
];

/// A copy of the CPG pack beside it (`<cpg>-ephemeral`, reading the same data files by
/// absolute path) whose [`EPHEMERAL`] rules are `materialize: ephemeral`.
fn ephemeral_pack(cpg: &Path) -> anyhow::Result<PathBuf> {
    let dir = cpg.with_file_name(format!(
        "{}-ephemeral",
        cpg.file_name()
            .map_or_else(|| "cpg".into(), |n| n.to_string_lossy())
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("contracts"))?;
    for entry in std::fs::read_dir(cpg)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap_or_default()))?;
        }
    }
    for entry in std::fs::read_dir(cpg.join("contracts"))? {
        let path = entry?.path();
        std::fs::copy(
            &path,
            dir.join("contracts")
                .join(path.file_name().unwrap_or_default()),
        )?;
    }
    let data = std::path::absolute(cpg.join("data"))?;
    let mut manifest = std::fs::read_to_string(cpg.join("pack.yaml"))?
        .replace(": data/", &format!(": {}/", data.display()));
    if !manifest.contains("\nproducts:") {
        manifest.push_str("products:\n");
    }
    for rule in EPHEMERAL {
        manifest.push_str(&format!("  {rule}: {{materialize: ephemeral}}\n"));
    }
    std::fs::write(dir.join("pack.yaml"), manifest)?;
    Ok(dir)
}
