//! `cargo xtask substrait`: every plan rulec emits for the CPG, TPC-H and TPC-DS packs
//! (`rulec plan PACK --format binary -o DIR`) through the Substrait validator
//! (`substrait-validator` from PyPI, in `<target>/substrait-venv`), by
//! `tests/substrait/validate.py`: no errors, and no warning beyond
//! `tests/substrait/validator-warnings.txt`.

use anyhow::{Context as _, bail};
use std::path::Path;
use std::process::Command;

/// The validator, pinned: 0.1.4 validates Substrait 0.57.
const PACKAGES: &[&str] = &["substrait-validator==0.1.4"];

/// The packs whose plans are validated.
const PACKS: &[&str] = &["cpg", "tpch", "tpcds"];

pub fn run(root: &Path, target: &Path) -> anyhow::Result<()> {
    let rulec = super::build_debug(root, target, &["rulec"])?.join("rulec");
    let python = super::readers_lane::venv(target, "substrait-venv", PACKAGES)?;
    let lane = target.join("substrait-lane");
    if lane.exists() {
        std::fs::remove_dir_all(&lane)?;
    }
    for pack in PACKS {
        let dir = lane.join("plans").join(pack);
        std::fs::create_dir_all(&dir)?;
        let output = Command::new(&rulec)
            .arg("plan")
            .arg(root.join("rules").join(pack))
            .args(["--format", "binary", "--output"])
            .arg(&dir)
            .output()
            .context("cannot run rulec plan")?;
        if !output.status.success() {
            bail!(
                "rulec plan rules/{pack} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let status = Command::new(&python)
        .arg(root.join("tests/substrait/validate.py"))
        .arg(lane.join("plans"))
        .arg(root.join("tests/substrait/validator-warnings.txt"))
        .arg(lane.join("warnings.txt"))
        .status()
        .context("cannot run the validator script")?;
    if !status.success() {
        bail!("the Substrait validator found errors or new warnings");
    }
    Ok(())
}
