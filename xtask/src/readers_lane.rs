//! `cargo xtask readers`: products read by other readers as they are. Builds a small pack
//! with `rulec run` — a flat product, a Hive-partitioned one and an appended one — then runs
//! `tests/readers/read_products.py` with pyarrow and DuckDB, installed from PyPI into a venv
//! the lane creates (`<target>/readers-venv`, kept between runs).

use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::Command;

/// The readers the lane installs, pinned (and SQLGlot, at the bench's pin, for the DuckDB
/// lane's parse check of SQL printed for other engines).
pub(crate) const PACKAGES: &[&str] = &["pyarrow==21.0.0", "duckdb==1.3.2", "sqlglot==30.30.0"];

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    let rulec = super::build_debug(root, target, &["rulec"])?.join("rulec");
    let python = venv(target, "readers-venv", PACKAGES)?;
    let lane = target.join("readers-lane");
    if lane.exists() {
        std::fs::remove_dir_all(&lane)?;
    }
    std::fs::create_dir_all(lane.join("data/events"))?;
    std::fs::create_dir_all(lane.join("contracts"))?;
    // The data: written by rulec itself from a VALUES rule, then read as the input.
    let seed = lane.join("seed");
    std::fs::create_dir_all(&seed)?;
    std::fs::write(
        seed.join("pack.yaml"),
        "name: seed\nproducts:\n  events_a: {order_by: [id]}\n  events_b: {order_by: [id]}\n",
    )?;
    let values = |from: u32, to: u32| -> String {
        let rows: Vec<String> = (from..to)
            .map(|i| {
                let kind = ["call", "name", "attr", "def"][(i % 4) as usize];
                format!("({i}, '{kind}')")
            })
            .collect();
        format!(
            "SELECT CAST(column1 AS BIGINT) AS id, column2 AS kind FROM (VALUES {})\n",
            rows.join(", ")
        )
    };
    std::fs::write(seed.join("events_a.sql"), values(0, 400))?;
    std::fs::write(seed.join("events_b.sql"), values(400, 800))?;
    rulec_run(&rulec, &seed, &[])?;
    let copy_data = |product: &str, name: &str| -> anyhow::Result<()> {
        let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            seed.join("out").join(product).join("_rulec/manifest.json"),
        )?)?;
        let file = manifest["files"][0]["name"]
            .as_str()
            .context("a data file")?;
        std::fs::copy(
            seed.join("out").join(product).join(file),
            lane.join("data/events").join(name),
        )?;
        Ok(())
    };
    copy_data("events_a", "a.parquet")?;
    std::fs::write(
        lane.join("contracts/events.yaml"),
        "table: events\ncolumns:\n  - {name: id, type: int64}\n  - {name: kind, type: utf8}\n",
    )?;
    std::fs::write(
        lane.join("events_by_kind.sql"),
        "SELECT kind, id FROM events\n",
    )?;
    std::fs::write(
        lane.join("events_partitioned.sql"),
        "SELECT kind, id, id * 2 AS twice FROM events\n",
    )?;
    std::fs::write(
        lane.join("events_appended.sql"),
        "SELECT id, upper(kind) AS kind FROM events WHERE id % 2 = 0\n",
    )?;
    std::fs::write(
        lane.join("pack.yaml"),
        "name: readers\ninputs:\n  events: data/events\nproducts:\n  events_partitioned: {partition_by: [kind], order_by: [id]}\n  events_appended: {incremental: append}\n",
    )?;
    rulec_run(&rulec, &lane, &[])?;
    copy_data("events_b", "b.parquet")?;
    let report = rulec_run(&rulec, &lane, &["--format", "json"])?;
    if !report.contains("\"appended\"") {
        bail!("events_appended was not appended:\n{report}");
    }
    let status = Command::new(&python)
        .arg(root.join("tests/readers/read_products.py"))
        .arg(lane.join("out"))
        .status()
        .context("cannot run the readers script")?;
    if !status.success() {
        bail!("a reader did not read the products as published");
    }
    Ok(())
}

/// `rulec run PACK ARGS`, its stdout.
fn rulec_run(rulec: &Path, pack: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(rulec)
        .arg("run")
        .arg(pack)
        .args(args)
        .output()
        .context("cannot run rulec")?;
    if !output.status.success() {
        bail!(
            "rulec run {} failed:\n{}{}",
            pack.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The Python of the venv `<target>/<name>`, with `packages` installed (once).
pub(crate) fn venv(
    target: &Path,
    name: &str,
    packages: &[&str],
) -> anyhow::Result<std::path::PathBuf> {
    let dir = target.join(name);
    let python = dir.join("bin/python");
    let stamp = dir.join("installed.txt");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(python);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .context("cannot run python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv failed");
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .status()
        .context("cannot run pip")?;
    if !status.success() {
        bail!("pip install {} failed", packages.join(" "));
    }
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}
