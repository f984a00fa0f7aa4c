//! `cargo xtask duckdb`: the DuckDB cross-check. For the TPC-H pack (data generated at a
//! small scale factor) and the CPG pack (its bundled data), `rulec run` builds every product,
//! `rulec plan --dialect duckdb --format json` prints each rule's canonical SQL for DuckDB,
//! and `tests/duckdb/cross_check.py` runs that SQL in DuckDB (from PyPI, in the readers
//! lane's venv) over the same inputs and upstream products, comparing the rows with the
//! product's as multisets. Every rule must print and give the same rows. Then the CPG rules
//! as a DuckDB user writes them (`tests/fixtures/cpg-duckdb/`) are read with `dialect:
//! duckdb` and must have the CPG rules' fingerprints, and run as written in DuckDB, must
//! give the CPG products' rows. Last, every rule's canonical SQL printed for PostgreSQL,
//! Spark and Trino must parse with SQLGlot's parser for that engine
//! (`tests/duckdb/sqlglot_parse.py`), a parser independent of rulec's.

use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::Command;

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    let debug = super::build_debug(root, target, &["rulec", "rulec-bench"])?;
    let rulec = debug.join("rulec");
    let python = crate::readers_lane::venv(target, "readers-venv", crate::readers_lane::PACKAGES)?;
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
            if outcome != "equal" {
                failures.push(format!(
                    "{}/{}: {outcome}: {}",
                    pack.file_name().unwrap_or_default().to_string_lossy(),
                    r["rule"].as_str().unwrap_or_default(),
                    r["why"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    failures.extend(duckdb_spellings(root, &rulec, &python, &cpg, &lane)?);
    for dialect in ["postgres", "spark", "trino"] {
        println!("\nSQL printed for {dialect}, parsed by SQLGlot:");
        let mut plans = Vec::new();
        for pack in [&tpch, &cpg] {
            let plan = Command::new(&rulec)
                .arg("plan")
                .arg(pack)
                .args(["--format", "json", "--show", "sql", "--dialect", dialect])
                .output()?;
            let file = pack.join(format!("plans-{dialect}.json"));
            std::fs::write(&file, &plan.stdout)?;
            plans.push(file);
        }
        let status = Command::new(&python)
            .arg(root.join("tests/duckdb/sqlglot_parse.py"))
            .arg(dialect)
            .args(&plans)
            .status()
            .context("cannot run the parse check")?;
        if !status.success() {
            failures.push(format!(
                "SQL printed for {dialect} does not parse with SQLGlot"
            ));
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} rules do not give the product's rows in DuckDB:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// The DuckDB spellings of the CPG rules: their fingerprints (read with `dialect: duckdb`)
/// against the CPG rules', and their rows in DuckDB against the CPG products.
fn duckdb_spellings(
    root: &Path,
    rulec: &Path,
    python: &Path,
    cpg: &Path,
    lane: &Path,
) -> anyhow::Result<Vec<String>> {
    let spellings = root.join("tests/fixtures/cpg-duckdb");
    let pack = lane.join("cpg-duckdb");
    crate::copy_dir(&cpg.join("contracts"), &pack.join("contracts"), &[])?;
    std::fs::write(pack.join("pack.yaml"), "name: cpg\ndialect: duckdb\n")?;
    let mut rules = Vec::new();
    for entry in std::fs::read_dir(&spellings)?.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, pack.join(entry.file_name()))?;
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            rules.push(serde_json::json!({
                "name": name,
                "canonical_sql": std::fs::read_to_string(&path)?,
            }));
        }
    }
    let fingerprints = |dir: &Path| -> anyhow::Result<Vec<(String, String)>> {
        let plan = Command::new(rulec)
            .arg("plan")
            .arg(dir)
            .args(["--format", "json", "--show", "sql"])
            .output()?;
        let plans: serde_json::Value = serde_json::from_slice(&plan.stdout)
            .with_context(|| format!("rulec plan {}", dir.display()))?;
        let mut pairs: Vec<(String, String)> = plans["rules"]
            .as_array()
            .context("rules")?
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["fingerprint"].as_str().unwrap_or("none").to_owned(),
                )
            })
            .collect();
        pairs.sort();
        Ok(pairs)
    };
    let mut failures = Vec::new();
    let (expected, got) = (fingerprints(cpg)?, fingerprints(&pack)?);
    println!("\n{} (DuckDB spellings of the CPG rules):", pack.display());
    for (name, fingerprint) in &expected {
        let theirs = got.iter().find(|(n, _)| n == name).map(|(_, f)| f.as_str());
        let same = theirs == Some(fingerprint.as_str());
        println!(
            "{:>15}  {name}",
            if same {
                "same fingerprint"
            } else {
                "DIFFERENT"
            }
        );
        if !same {
            failures.push(format!(
                "cpg-duckdb/{name}: fingerprint {} instead of {fingerprint}",
                theirs.unwrap_or("missing")
            ));
        }
    }
    if expected.len() != rules.len() {
        failures.push(format!(
            "{} DuckDB spellings for {} CPG rules",
            rules.len(),
            expected.len()
        ));
    }
    let plans = pack.join("spellings.json");
    std::fs::write(&plans, serde_json::json!({ "rules": rules }).to_string())?;
    let results = pack.join("duckdb-results.json");
    let status = Command::new(python)
        .arg(root.join("tests/duckdb/cross_check.py"))
        .arg(cpg)
        .arg(cpg.join("out"))
        .arg(&plans)
        .arg(&results)
        .status()
        .context("cannot run the cross-check script")?;
    if !status.success() {
        bail!("the cross-check script failed on the DuckDB spellings");
    }
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results)?)?;
    for r in results.as_array().context("results")? {
        let outcome = r["outcome"].as_str().unwrap_or_default();
        if outcome != "equal" {
            failures.push(format!(
                "cpg-duckdb/{}: {outcome}: {}",
                r["rule"].as_str().unwrap_or_default(),
                r["why"].as_str().unwrap_or_default()
            ));
        }
    }
    Ok(failures)
}
