//! `cargo xtask`: project automation that is not a test.
//!
//! - `deps`: the dependency policy: one copy each of arrow, parquet, sqlparser, substrait,
//!   prost and datafusion in the build graph (`cargo tree -d`).
//! - `bless [FILTER] [--accept NAME...] [--accept-all]`: re-runs the snapshot tests,
//!   prints every pending snapshot as a unified diff against the accepted one, and accepts
//!   only what is named. Nothing is accepted unread by default.
//! - `bench [--rules N] [--runs K] [--no-sqlglot] [--editor] [--run-only] [--ballista]`: times
//!   `rulec check` on a generated pack, `rulec lsp` and the check cache on it (`--editor`:
//!   only those), and per query on the TPC-H and TPC-DS packs against SQLGlot's `optimize`
//!   (see `bench.rs` and BENCHMARKS.md); `--ballista`: TPC-H built locally and on an
//!   in-process Ballista cluster with 1 and 2 executors.
//! - `nvim`: the editor lane, headless Neovim against `rulec lsp` (see `nvim_lane.rs`).
//! - `readers`: products read by pyarrow and DuckDB (from PyPI, in a venv the lane makes).
//! - `duckdb`: each TPC-H and CPG rule's SQL printed for DuckDB, run there, rows compared.
//! - `s3`: inputs and products on S3, against moto's server on loopback (from PyPI, in a
//!   venv the lane makes).
//! - `gen-data [--sf F] [--copies N] [--force]`: the run benchmark's data (TPC-H by
//!   tpchgen, copies of the CPG data under new ids) under `<target>/bench/data`.
//! - `kills [--count N] [--seed S]`: the glob-reader kill test with N kills (CI runs 24).
//! - `codegen [--check]`: writes generated documentation (the diagnostic code table in the
//!   README); `--check` fails when it is stale.

#![expect(clippy::print_stdout, reason = "xtask is a command-line tool")]

mod acero_lane;
mod bench;
mod duckdb_lane;
mod editor_bench;
mod nvim_lane;
mod readers_lane;
mod run_bench;
mod s3_lane;
mod substrait_lane;
mod tpc_bench;

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
    /// Benchmark rulec (release): `check` on a generated pack; TPC-H and TPC-DS against SQLGlot.
    ///
    /// First, `rulec check` on a generated pack of `--rules` rules: wall time over the runs.
    ///
    /// Then the TPC-H (22 queries) and TPC-DS (103 rules, 99 templates) packs: each query's
    /// compile time from `rulec check --timings` (plan, canonical pipeline, fingerprints; not
    /// the parse), median over the runs, then the median and total across queries, and the
    /// whole pack's load+check time. When Python works, SQLGlot's `optimize` (parse
    /// included) on the same queries and contracts, in a venv under
    /// `<target>/bench/sqlglot-venv` (sqlglot pinned, installed on first use), and the ratios
    /// SQLGlot / rulec. Queries either side fails on are listed and left out of the ratios.
    ///
    /// Per-query figures go to `<target>/bench/tpc.json`. See BENCHMARKS.md.
    Bench {
        /// Rules in the generated pack.
        #[arg(long, default_value_t = 200)]
        rules: usize,
        /// Timed runs (of each benchmark; per-query figures are medians over them).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Time the debug build instead of the release build (to try the harness quickly;
        /// debug timings are not the benchmark's result).
        #[arg(long)]
        debug: bool,
        /// Time this rulec binary instead of building one.
        #[arg(long, value_name = "PATH")]
        rulec: Option<PathBuf>,
        /// Skip the SQLGlot comparison.
        #[arg(long)]
        no_sqlglot: bool,
        /// The Python that creates SQLGlot's venv.
        #[arg(long, value_name = "PATH", default_value = "python3")]
        python: String,
        /// Skip the `rulec run` benchmarks (TPC-H, scaled CPG; minutes, and generated data).
        #[arg(long)]
        no_run: bool,
        /// Only the editor benchmarks: `rulec lsp` latency and the check cache.
        #[arg(long)]
        editor: bool,
        /// Only the `rulec run` benchmarks (TPC-H, scaled CPG, ephemeral, append, jobs).
        #[arg(long, conflicts_with_all = ["editor", "no_run"])]
        run_only: bool,
        /// Only the Ballista benchmark: TPC-H built locally and on an in-process Ballista
        /// cluster with 1 and 2 executors (rulec built with the `ballista` feature).
        #[arg(long, conflicts_with_all = ["editor", "no_run", "run_only"])]
        ballista: bool,
        /// TPC-H scale factor of the run benchmark.
        #[arg(long, default_value_t = 1.0)]
        sf: f64,
        /// Copies of the CPG data in the run benchmark.
        #[arg(long, default_value_t = 16)]
        copies: u32,
    },
    /// Products read as they are by pyarrow's dataset API and DuckDB's `read_parquet`
    /// (flat, Hive-partitioned and appended products; the readers are installed from PyPI
    /// into `<target>/readers-venv`).
    Readers,
    /// Inputs and products on S3: the `s3::` tests of rulec (features `s3` and `ballista`)
    /// against moto's S3 server on loopback (from PyPI, in `<target>/s3-venv`).
    S3,
    /// Every plan of the CPG, TPC-H and TPC-DS packs through the Substrait validator (from
    /// PyPI, in `<target>/substrait-venv`): no errors, no warning beyond
    /// `tests/substrait/validator-warnings.txt`.
    Substrait,
    /// The TPC-H pack's Substrait plans run in Arrow Acero (pyarrow, from PyPI in
    /// `<target>/acero-venv`) on TPC-H SF0.1, rows compared with rulec's products; the
    /// queries that compare equal are `tests/substrait/acero-expected.txt`.
    Acero,
    /// Each TPC-H and CPG rule's canonical SQL printed for DuckDB, run in DuckDB (from PyPI,
    /// in the readers lane's venv), against rulec's products as multisets.
    Duckdb,
    /// The glob-reader kill test with more kills than CI runs: `rulec run` killed at random
    /// moments while readers read the product by glob and by the engine's listing.
    Kills {
        /// How many runs to kill.
        #[arg(long, default_value_t = 300)]
        count: u32,
        /// The seed of the kill moments (default: from the clock).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Generate benchmark data under <target>/bench/data: TPC-H (tpchgen) and copies of the
    /// CPG data under new ids.
    GenData {
        #[arg(long, default_value_t = 1.0)]
        sf: f64,
        #[arg(long, default_value_t = 16)]
        copies: u32,
        /// Regenerate data that exists.
        #[arg(long)]
        force: bool,
    },
    /// The editor lane: headless Neovim (installed from Debian's packages when missing)
    /// against `rulec lsp` on the CPG pack: a typo's diagnostic, its fix, a hover.
    Nvim,
    /// Regenerate documentation generated from code.
    Codegen {
        /// Fail instead of writing when a generated file is stale.
        #[arg(long)]
        check: bool,
    },
}

pub const CODES_START: &str = "<!-- codes:start (generated by `cargo xtask codegen`) -->";
pub const CODES_END: &str = "<!-- codes:end -->";

fn codegen(check: bool) -> anyhow::Result<()> {
    let path = workspace_root().join("README.md");
    let text = std::fs::read_to_string(&path)?;
    let (Some(start), Some(end)) = (text.find(CODES_START), text.find(CODES_END)) else {
        bail!("README.md has no `{CODES_START}` ... `{CODES_END}` section");
    };
    let fresh = format!(
        "{}{CODES_START}\n{}{}",
        &text[..start],
        rulec_diagnostics::codes::markdown_table(),
        &text[end..]
    );
    if fresh == text {
        println!("README.md is up to date");
    } else if check {
        bail!("README.md's code table is stale: run `cargo xtask codegen`");
    } else {
        std::fs::write(&path, fresh)?;
        println!("wrote README.md");
    }
    Ok(())
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
        Task::Codegen { check } => codegen(check),
        Task::Bench {
            rules,
            runs,
            debug,
            rulec,
            no_sqlglot,
            python,
            no_run,
            editor,
            run_only,
            ballista,
            sf,
            copies,
        } => {
            let root = workspace_root();
            if ballista {
                let rulec = match rulec {
                    Some(path) => path,
                    None => {
                        bench::build_rulec_with(&root, &target_dir(&root), debug, &["ballista"])?
                    }
                };
                let data = run_bench::gen_data(&root, &target_dir(&root), sf, copies, false)?;
                return run_bench::ballista_benchmark(&rulec, &data, runs.min(3));
            }
            if run_only {
                let rulec = match rulec {
                    Some(path) => path,
                    None => bench::build_rulec(&root, &target_dir(&root), debug)?,
                };
                let data = run_bench::gen_data(&root, &target_dir(&root), sf, copies, false)?;
                return run_bench::run_benchmark(&rulec, &data, runs.min(3));
            }
            let options = bench::Options {
                rules,
                runs,
                debug,
                rulec,
                sqlglot: !no_sqlglot,
                python,
                editor_only: editor,
            };
            let rulec = bench::run(&root, &options)?;
            if no_run || editor {
                return Ok(());
            }
            let data = run_bench::gen_data(&root, &target_dir(&root), sf, copies, false)?;
            run_bench::run_benchmark(&rulec, &data, runs.min(3))
        }
        Task::Kills { count, seed } => {
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_secs())
            });
            println!("{count} kills, seed {seed}");
            let status = std::process::Command::new(
                std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            )
            .args([
                "test",
                "-p",
                "rulec",
                "--test",
                "it",
                "--",
                "--exact",
                "publish::glob_readers_always_see_one_complete_version_across_kills",
            ])
            .env("RULEC_KILLS", count.to_string())
            .env("RULEC_KILL_SEED", seed.to_string())
            .current_dir(workspace_root())
            .status()?;
            anyhow::ensure!(status.success(), "the kill test failed (seed {seed})");
            Ok(())
        }
        Task::Duckdb => {
            let root = workspace_root();
            duckdb_lane::run(&root, &target_dir(&root))
        }
        Task::S3 => {
            let root = workspace_root();
            s3_lane::run(&root, &target_dir(&root))
        }
        Task::Acero => {
            let root = workspace_root();
            acero_lane::run(&root, &target_dir(&root))
        }
        Task::Substrait => {
            let root = workspace_root();
            substrait_lane::run(&root, &target_dir(&root))
        }
        Task::Readers => {
            let root = workspace_root();
            readers_lane::run(&root, &target_dir(&root))
        }
        Task::Nvim => {
            let root = workspace_root();
            nvim_lane::run(&root, &target_dir(&root))
        }
        Task::GenData { sf, copies, force } => {
            let root = workspace_root();
            run_bench::gen_data(&root, &target_dir(&root), sf, copies, force).map(|_| ())
        }
    }
}

/// Builds `packages` (debug) for a lane; returns the debug directory of the target.
fn build_debug(root: &Path, target: &Path, packages: &[&str]) -> anyhow::Result<PathBuf> {
    let mut build = cargo();
    build.arg("build");
    for package in packages {
        build.args(["-p", package]);
    }
    let status = build.current_dir(root).status()?;
    anyhow::ensure!(
        status.success(),
        "cargo build -p {} failed",
        packages.join(" -p ")
    );
    Ok(target.join("debug"))
}

/// Copies a directory tree, leaving out entries named in `skip` and hidden ones.
fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if skip.contains(&text.as_ref()) || text.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to.join(&name), skip)?;
        } else {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn workspace_root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time too; it wins over the compile-time
    // value, which names wherever a shared target directory's binary was first built.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// The one-copy policy, for the default build and with every feature (Ballista's too).
fn deps() -> anyhow::Result<()> {
    for features in [&[][..], &["--all-features"][..]] {
        single_copies(features)?;
    }
    println!("one copy each of: {}", SINGLE_COPY.join(", "));
    Ok(())
}

fn single_copies(features: &[&str]) -> anyhow::Result<()> {
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
        .args(features)
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
            "more than one copy of an engine crate (cargo tree {}):\n  {}",
            features.join(" "),
            offenders.join("\n  ")
        );
    }
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
