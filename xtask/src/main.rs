//! `cargo xtask`: project automation that is not a test.
//!
//! - `deps`: the dependency policy: one copy each of arrow, parquet, sqlparser, substrait,
//!   prost and datafusion in the build graph (`cargo tree -d`).
//! - `bless [FILTER] [--accept NAME...] [--accept-all]`: re-runs the snapshot tests,
//!   prints every pending snapshot as a unified diff against the accepted one, and accepts
//!   only what is named. Nothing is accepted unread by default.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a command-line tool"
)]

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Fail if the build graph holds two versions of an engine crate.
    Deps,
    /// Regenerate snapshots, show their diffs, accept the ones named.
    Bless {
        /// Only snapshots whose test or file name contains this.
        filter: Option<String>,
        /// Accept these pending snapshots (by file stem, e.g. `cpg_nodes`).
        #[arg(long)]
        accept: Vec<String>,
        /// Accept every pending snapshot (after reading the diffs above).
        #[arg(long)]
        accept_all: bool,
    },
}

/// Crates that must appear in exactly one version.
const SINGLE_COPY: &[&str] = &[
    "arrow",
    "arrow-array",
    "arrow-schema",
    "parquet",
    "sqlparser",
    "substrait",
    "prost",
    "datafusion",
    "datafusion-common",
    "datafusion-expr",
    "datafusion-substrait",
];

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Task::Deps => deps(),
        Task::Bless {
            filter,
            accept,
            accept_all,
        } => bless(filter.as_deref(), &accept, accept_all),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn deps() -> anyhow::Result<()> {
    let output = cargo()
        .args([
            "tree",
            "--workspace",
            "--duplicates",
            "--edges",
            "normal,build",
            "--prefix",
            "depth",
            "--format",
            "{p}",
        ])
        .output()
        .context("cannot run cargo tree")?;
    if !output.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    // Depth-0 lines are the packages that exist in more than one version (or build); deeper
    // lines are the packages that depend on them. Count distinct versions per crate.
    let mut versions: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        std::collections::BTreeMap::new();
    for package in text.lines().filter_map(|line| line.strip_prefix('0')) {
        let mut parts = package.split_whitespace();
        let (Some(name), Some(version)) = (parts.next(), parts.next()) else {
            continue;
        };
        if SINGLE_COPY.contains(&name) {
            versions.entry(name).or_default().insert(version);
        }
    }
    let offenders: Vec<String> = versions
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(name, v)| {
            format!(
                "{name}: {}",
                v.iter().copied().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    if !offenders.is_empty() {
        bail!(
            "more than one copy of an engine crate:\n  {}",
            offenders.join("\n  ")
        );
    }
    println!("one copy each of: {}", SINGLE_COPY.join(", "));
    Ok(())
}

fn pending_snapshots(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            pending_snapshots(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "new") {
            out.push(path);
        }
    }
    Ok(())
}

fn bless(filter: Option<&str>, accept: &[String], accept_all: bool) -> anyhow::Result<()> {
    let mut test = cargo();
    test.args(["test", "-p", "rulec", "--test", "it", "--", "snapshots"])
        .env("INSTA_UPDATE", "new")
        .env("INSTA_FORCE_PASS", "1");
    if let Some(filter) = filter {
        test.env("INSTA_GLOB_FILTER", filter);
    }
    let status = test.status().context("cannot run the snapshot tests")?;
    if !status.success() {
        bail!("the snapshot tests failed for another reason than a snapshot mismatch");
    }
    let root = workspace_root();
    let mut pending = Vec::new();
    pending_snapshots(&root.join("snapshots"), &mut pending)?;
    pending.sort();
    pending.retain(|p| filter.is_none_or(|f| p.to_string_lossy().contains(f)));
    if pending.is_empty() {
        println!("no pending snapshots");
        return Ok(());
    }
    for path in &pending {
        let accepted = path.with_extension("");
        let old = std::fs::read_to_string(&accepted).unwrap_or_default();
        let new = std::fs::read_to_string(path)?;
        let shown = accepted
            .strip_prefix(&root)
            .unwrap_or(&accepted)
            .display()
            .to_string();
        let diff = similar::TextDiff::from_lines(&old, &new);
        print!(
            "{}",
            diff.unified_diff().header(&shown, &format!("{shown}.new"))
        );
        let stem = accepted
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if accept_all || accept.contains(&stem) {
            std::fs::rename(path, &accepted)?;
            println!("accepted {shown}");
        } else {
            println!("pending {shown} (accept with --accept {stem})");
        }
    }
    Ok(())
}
