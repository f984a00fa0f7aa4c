//! `cargo xtask duckdb`: the DuckDB cross-check. For the TPC-H pack (data generated at a
//! small scale factor) and the CPG pack (its bundled data), `rulec run` builds every product,
//! `rulec plan --dialect duckdb --format json` prints each rule's canonical SQL for DuckDB,
//! and `tests/duckdb/cross_check.py` runs that SQL in DuckDB (from PyPI, in the readers
//! lane's venv) over the same inputs and upstream products, comparing the rows with the
//! product's as multisets. Every printed rule must give the same rows; rules the DuckDB
//! printer cannot print yet are listed with the reason.

use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::Command;

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    let debug = super::build_debug(root, target, &["rulec", "rulec-bench"])?;
    let rulec = debug.join("rulec");
    let python = crate::readers_lane::venv(target)?;
    let lane = target.join("duckdb-lane");
    if lane.exists() {
        std::fs::remove_dir_all(&lane)?;
    }
    std::fs::create_dir_all(&lane)?;
    let tpch = lane.join("tpch");
    let status = Command::new(debug.join("bench-tool"))
        .args(["gen-tpch", "0.01"])
        .arg(&tpch)
        .status()
        .context("cannot run bench-tool")?;
    if !status.success() {
        bail!("bench-tool gen-tpch failed");
    }
    let cpg = lane.join("cpg");
    crate::copy_dir(&root.join("rules/cpg"), &cpg, &["out"])?;
    let mut failures = Vec::new();
    for pack in [&tpch, &cpg] {
        let out = pack.join("out");
        let run = Command::new(&rulec)
            .arg("run")
            .arg(pack)
            .arg("--out")
            .arg(&out)
            .output()?;
        if !run.status.success() {
            bail!(
                "rulec run {} failed:\n{}",
                pack.display(),
                String::from_utf8_lossy(&run.stderr)
            );
        }
        let plan = Command::new(&rulec)
            .arg("plan")
            .arg(pack)
            .args(["--format", "json", "--show", "sql", "--dialect", "duckdb"])
            .output()?;
        let plans = pack.join("plans-duckdb.json");
        std::fs::write(&plans, &plan.stdout)?;
        let results = pack.join("duckdb-results.json");
        println!("\n{}:", pack.display());
        let status = Command::new(&python)
            .arg(root.join("tests/duckdb/cross_check.py"))
            .arg(pack)
            .arg(&out)
            .arg(&plans)
            .arg(&results)
            .status()
            .context("cannot run the cross-check script")?;
        if !status.success() {
            bail!("the cross-check script failed on {}", pack.display());
        }
        let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results)?)?;
        for r in results.as_array().context("results")? {
            let outcome = r["outcome"].as_str().unwrap_or_default();
            if outcome != "equal" && outcome != "not printed" {
                failures.push(format!(
                    "{}/{}: {outcome}: {}",
                    pack.file_name().unwrap_or_default().to_string_lossy(),
                    r["rule"].as_str().unwrap_or_default(),
                    r["why"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} rules printed for DuckDB do not give the product's rows there:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}
