//! `cargo xtask acero`: the TPC-H pack's Substrait plans run in a second engine, Arrow Acero
//! (`pyarrow.substrait.run_query`, from PyPI in `<target>/acero-venv`), on TPC-H SF0.1, and
//! their rows compared with rulec's products by `tests/substrait/acero.py`. Which queries
//! compare equal, and why the others cannot run, is `tests/substrait/acero-expected.txt`:
//! the lane fails when a query listed equal is not.

use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::Command;

/// What the lane's script imports, pinned (see the script's header).
const PACKAGES: &[&str] = &[
    "pyarrow==26.0.1",
    "substrait==0.37.1",
    "substrait-protobuf==0.106.0",
    "substrait-extensions==0.106.0",
    "protobuf==6.33.6",
];

/// The TPC-H scale factor of the lane.
const SCALE: &str = "0.1";

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    let debug = super::build_debug(root, target, &["rulec", "rulec-bench"])?;
    let python = super::readers_lane::venv(target, "acero-venv", PACKAGES)?;
    let lane = target.join("acero-lane");
    let pack = lane.join(format!("tpch-sf{SCALE}"));
    if !pack.join("pack.yaml").is_file() {
        let _ = std::fs::remove_dir_all(&pack);
        let status = Command::new(debug.join("bench-tool"))
            .args(["gen-tpch", SCALE])
            .arg(&pack)
            .status()
            .context("cannot run bench-tool")?;
        if !status.success() {
            bail!("bench-tool gen-tpch {SCALE} failed");
        }
    }
    let rulec = debug.join("rulec");
    let out = lane.join("out");
    let run = Command::new(&rulec)
        .arg("run")
        .arg(&pack)
        .arg("--out")
        .arg(&out)
        .output()
        .context("cannot run rulec")?;
    if !run.status.success() {
        bail!(
            "rulec run failed:\n{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let plans = lane.join("plans");
    let _ = std::fs::remove_dir_all(&plans);
    std::fs::create_dir_all(&plans)?;
    let plan = Command::new(&rulec)
        .arg("plan")
        .arg(&pack)
        .args(["--format", "binary", "--output"])
        .arg(&plans)
        .output()
        .context("cannot run rulec plan")?;
    if !plan.status.success() {
        bail!(
            "rulec plan failed:\n{}",
            String::from_utf8_lossy(&plan.stderr)
        );
    }
    let status = Command::new(&python)
        .arg(root.join("tests/substrait/acero.py"))
        .arg(&plans)
        .arg(pack.join("data"))
        .arg(&out)
        .arg(root.join("tests/substrait/acero-expected.txt"))
        .arg(lane.join("report.txt"))
        .status()
        .context("cannot run the Acero script")?;
    if !status.success() {
        bail!(
            "Acero's results fell short of tests/substrait/acero-expected.txt (see {})",
            lane.join("report.txt").display()
        );
    }
    Ok(())
}
