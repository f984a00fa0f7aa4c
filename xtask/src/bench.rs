//! `cargo xtask bench`: rulec's speed benchmarks.
//!
//! 1. **check on a generated pack.** Generates a pack of 200 rules over the CPG contracts (a
//!    layered DAG: unnest views per LibCST node kind and SCIP role, span joins, per-file
//!    aggregates, unions and summaries) and times `rulec check` on it: wall time over
//!    repeated runs (min, median, max) and the slowest rules' planning times rulec reports
//!    with `--timings`.
//! 2. **Per query, TPC-H and TPC-DS, against SQLGlot.** For the 22 TPC-H queries
//!    (`rules/tpch`) and the 99 TPC-DS templates (`rules/tpcds`, 103 rules), each query's
//!    compile time as `rulec check --timings` reports it (SQL to logical plan, the pinned
//!    canonical pipeline, the fingerprints), per query the median over the runs, then the
//!    median across queries and the total, read from the report's `timings`
//!    (`--timings --format json`). Each pack is split into packs of [`GROUP`] rules (plus a
//!    warm-up rule, which takes the process's one-time costs and is not counted) under
//!    `<target>/bench/split-*`, each checked once per run. The per-rule time does not include sqlparser's parse (done when
//!    the pack loads): the whole pack's `load+check` time (which does, with the contracts,
//!    the lints and the Substrait check) is reported beside it, and its difference to the
//!    planning total bounds what the per-rule figure leaves out.
//!    Then, when Python works, SQLGlot (pinned to [`SQLGLOT_VERSION`], in a venv under
//!    `<target>/bench/sqlglot-venv`, created on first use): `xtask/sqlglot_bench.py` times
//!    `optimize(parse_one(sql), schema=...)` on the same queries, with the schema built from
//!    the same contracts. Printed: SQLGlot / rulec, as the ratio of the per-query medians and
//!    of the totals, over the queries both handle (the others are listed). Without Python,
//!    or with `--no-sqlglot`, that part is skipped with a message, never an error.
//!
//! On Linux, rulec and Python run pinned to one CPU (`taskset -c 0`): rulec then plans on
//! one thread (it plans independent rules on `available_parallelism` threads, whose
//! per-rule times are inflated by contention on a 2-core machine), which is also what a
//! single-threaded Python gets. Every per-query figure is written to
//! `<target>/bench/tpc.json`. `<target>` is `$CARGO_TARGET_DIR`, or `target/`.
//! Timing lives here, never in tests: the machines are shared and noisy.

use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The SQLGlot release the comparison installs and expects.
pub const SQLGLOT_VERSION: &str = "30.30.0";

/// Rules per split pack, each checked after the pack's warm-up rule.
pub const GROUP: usize = 4;

/// The TPC packs compared with SQLGlot: (label, pack directory under the workspace root).
pub(crate) const TPC_PACKS: &[(&str, &str)] = &[("TPC-H", "rules/tpch"), ("TPC-DS", "rules/tpcds")];

const KINDS: &[&str] = &[
    "Name",
    "Attribute",
    "Call",
    "Arg",
    "Assign",
    "SimpleString",
    "Integer",
    "FunctionDef",
    "ClassDef",
    "Import",
    "ImportFrom",
    "Return",
    "If",
    "For",
    "While",
    "Comparison",
    "BinaryOperation",
    "Subscript",
    "Lambda",
    "ListComp",
];

/// Writes the benchmark pack (`rules` rules) into `dir` and returns the rule count.
pub fn generate_pack(root: &Path, dir: &Path, rules: usize) -> anyhow::Result<usize> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir.join("contracts"))?;
    for contract in [
        "libcst_files",
        "scip_occurrences",
        "scip_symbols",
        "symtable_files",
    ] {
        std::fs::copy(
            root.join("rules/cpg/contracts")
                .join(format!("{contract}.yaml")),
            dir.join("contracts").join(format!("{contract}.yaml")),
        )?;
    }
    std::fs::write(
        dir.join("pack.yaml"),
        "name: bench\ninputs:\n  libcst_files: data/libcst_files.parquet\n  scip_occurrences: data/scip_occurrences.parquet\n  scip_symbols: data/scip_symbols.parquet\n  symtable_files: data/symtable_files.parquet\nlints:\n  unused-input: allow\n",
    )?;
    let mut written: Vec<String> = Vec::new();
    // Layer 0: unnest views, one per node kind, and SCIP occurrences by role.
    for kind in KINDS {
        let k = kind.to_lowercase();
        emit(
            dir,
            &mut written,
            format!("nodes_{k}"),
            format!(
                "SELECT f.file_id, f.path, f.node.cst_id AS cst_id, f.node.span AS span, f.node.attrs AS attrs\nFROM (SELECT file_id, path, unnest(nodes) AS node FROM libcst_files) AS f\nWHERE f.node.kind = 'libcst.{kind}'\n"
            ),
        )?;
        emit(
            dir,
            &mut written,
            format!("edges_into_{k}"),
            format!(
                "SELECT e.file_id, e.edge.src AS parent, e.edge.dst AS child, e.edge.attrs['field'] AS field\nFROM (SELECT file_id, unnest(edges) AS edge FROM libcst_files) AS e\nJOIN nodes_{k} AS n ON n.file_id = e.file_id AND n.cst_id = e.edge.dst\n"
            ),
        )?;
    }
    for (role, bit) in [("definition", 1), ("import", 2), ("write", 4), ("read", 8)] {
        emit(
            dir,
            &mut written,
            format!("occurrences_{role}"),
            format!(
                "SELECT document_id AS file_id, path, symbol, start_line, start_char, end_line, end_char\nFROM scip_occurrences\nWHERE (symbol_roles & {bit}) <> 0\n"
            ),
        )?;
    }
    // Layer 1: span joins and per-file aggregates.
    for (i, kind) in KINDS.iter().enumerate() {
        let k = kind.to_lowercase();
        let role = ["definition", "import", "write", "read"][i % 4];
        emit(
            dir,
            &mut written,
            format!("{k}_{role}_matches"),
            format!(
                "SELECT n.file_id, n.path, n.cst_id, o.symbol\nFROM nodes_{k} AS n\nJOIN occurrences_{role} AS o\n  ON n.file_id = o.file_id\n  AND n.span.start.line0 = o.start_line AND n.span.start.col = o.start_char\n  AND n.span.\"end\".line0 = o.end_line AND n.span.\"end\".col = o.end_char\n"
            ),
        )?;
        emit(
            dir,
            &mut written,
            format!("{k}_per_file"),
            format!(
                "SELECT file_id, path, count(*) AS nodes, min(span.start.line0) AS first_line, max(span.\"end\".line0) AS last_line\nFROM nodes_{k}\nGROUP BY file_id, path\n"
            ),
        )?;
        emit(
            dir,
            &mut written,
            format!("{k}_ranked"),
            format!(
                "SELECT file_id, cst_id, CAST(row_number() OVER (PARTITION BY file_id ORDER BY span.start.line0, span.start.col) AS BIGINT) AS position\nFROM nodes_{k}\n"
            ),
        )?;
        emit(
            dir,
            &mut written,
            format!("{k}_fields"),
            format!(
                "WITH by_field AS (\n  SELECT field, count(*) AS n FROM edges_into_{k} GROUP BY field\n)\nSELECT field, n, CASE WHEN n > 100 THEN 'common' ELSE 'rare' END AS frequency\nFROM by_field\n"
            ),
        )?;
    }
    // Layer 2: unions and cross-kind joins.
    for pair in KINDS.chunks(2) {
        let (a, b) = (pair[0].to_lowercase(), pair[1].to_lowercase());
        emit(
            dir,
            &mut written,
            format!("{a}_{b}_per_file"),
            format!(
                "SELECT file_id, path, nodes, '{a}' AS kind FROM {a}_per_file\nUNION ALL\nSELECT file_id, path, nodes, '{b}' AS kind FROM {b}_per_file\n"
            ),
        )?;
        emit(
            dir,
            &mut written,
            format!("{a}_{b}_symbols"),
            format!(
                "SELECT x.file_id, x.symbol, count(*) AS uses\nFROM (\n  SELECT file_id, symbol FROM {a}_{ra}_matches\n  UNION ALL\n  SELECT file_id, symbol FROM {b}_{rb}_matches\n) AS x\nGROUP BY x.file_id, x.symbol\n",
                ra = ["definition", "import", "write", "read"][KINDS
                    .iter()
                    .position(|k| k.to_lowercase() == a)
                    .unwrap_or(0)
                    % 4],
                rb = ["definition", "import", "write", "read"][KINDS
                    .iter()
                    .position(|k| k.to_lowercase() == b)
                    .unwrap_or(0)
                    % 4],
            ),
        )?;
        emit(
            dir,
            &mut written,
            format!("{a}_{b}_spans"),
            format!(
                "SELECT r.file_id, r.position, p.nodes\nFROM {a}_ranked AS r\nLEFT JOIN {b}_per_file AS p ON p.file_id = r.file_id\nWHERE r.position <= 10\n"
            ),
        )?;
    }
    // Layer 3: summaries over layer 2, until the pack has `rules` rules.
    let pairs: Vec<String> = KINDS
        .chunks(2)
        .map(|p| format!("{}_{}", p[0].to_lowercase(), p[1].to_lowercase()))
        .collect();
    let mut i = 0;
    while written.len() < rules {
        let a = &pairs[i % pairs.len()];
        let b = &pairs[(i * 3 + 1) % pairs.len()];
        let mut sql = String::new();
        let _ = write!(
            sql,
            "SELECT f.file_id, f.kind, sum(f.nodes) AS nodes, count(DISTINCT s.symbol) AS symbols, max(s.uses) AS most_uses\nFROM {a}_per_file AS f\nLEFT JOIN {b}_symbols AS s ON s.file_id = f.file_id\nWHERE f.nodes > {i}\nGROUP BY f.file_id, f.kind\n"
        );
        emit(dir, &mut written, format!("summary_{i:03}"), sql)?;
        i += 1;
    }
    if written.len() != rules {
        bail!("generated {} rules, wanted {rules}", written.len());
    }
    Ok(written.len())
}

fn emit(dir: &Path, written: &mut Vec<String>, name: String, sql: String) -> anyhow::Result<()> {
    std::fs::write(dir.join(format!("{name}.sql")), sql)?;
    written.push(name);
    Ok(())
}

/// The flags of `cargo xtask bench`.
pub struct Options {
    /// Rules in the generated pack of the check benchmark.
    pub rules: usize,
    /// Timed runs (of each benchmark).
    pub runs: usize,
    /// Build and time the debug build (to try the harness; not the benchmark's result).
    pub debug: bool,
    /// Time this rulec binary instead of building one.
    pub rulec: Option<PathBuf>,
    /// Compare with SQLGlot when Python works.
    pub sqlglot: bool,
    /// The Python that creates SQLGlot's venv.
    pub python: String,
    /// Only the editor benchmarks (`rulec lsp`, the check cache).
    pub editor_only: bool,
}

/// Runs the check and TPC benchmarks; returns the rulec binary it timed.
pub fn run(root: &Path, options: &Options) -> anyhow::Result<PathBuf> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bench = target.join("bench");
    let runs = options.runs.max(1);
    let rulec = match &options.rulec {
        Some(path) => {
            println!(
                "timing {} (given with --rulec: built elsewhere)",
                path.display()
            );
            path.clone()
        }
        None => build_rulec(root, &target, options.debug)?,
    };
    let pack = bench.join(format!("pack{}", options.rules));
    if options.editor_only {
        let count = generate_pack(root, &pack, options.rules)?;
        println!("generated {count} rules in {}", pack.display());
    } else {
        check_benchmark(root, &bench, &rulec, options.rules, runs)?;
    }
    crate::editor_bench::run(&rulec, &pack, runs)?;
    if !options.editor_only {
        crate::tpc_bench::tpc_benchmark(root, &bench, &rulec, runs, options)?;
    }
    Ok(rulec)
}

pub fn build_rulec(root: &Path, target: &Path, debug: bool) -> anyhow::Result<PathBuf> {
    build_rulec_with(root, target, debug, &[])
}

/// [`build_rulec`] with cargo features of the `rulec` package (`ballista`).
pub fn build_rulec_with(
    root: &Path,
    target: &Path,
    debug: bool,
    features: &[&str],
) -> anyhow::Result<PathBuf> {
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build.args(["build", "-p", "rulec"]);
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
    }
    if !debug {
        build.arg("--release");
    }
    let status = build
        .current_dir(root)
        .status()
        .context("cannot build rulec")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    if debug {
        println!("(debug build: these timings are not the benchmark's result)");
    }
    Ok(target.join(if debug {
        "debug/rulec"
    } else {
        "release/rulec"
    }))
}

/// `rulec check` on the generated pack: wall time over `runs` runs, and one `--timings`.
fn check_benchmark(
    root: &Path,
    bench: &Path,
    rulec: &Path,
    rules: usize,
    runs: usize,
) -> anyhow::Result<()> {
    let pack = bench.join(format!("pack{rules}"));
    let count = generate_pack(root, &pack, rules)?;
    println!("generated {count} rules in {}", pack.display());
    // One run to check the pack is clean and to collect per-rule timings.
    let first = Command::new(rulec)
        .args(["check", "--no-cache", "--timings"])
        .arg(&pack)
        .output()
        .with_context(|| format!("cannot run {}", rulec.display()))?;
    if !first.status.success() {
        bail!(
            "the benchmark pack does not check clean:\n{}{}",
            String::from_utf8_lossy(&first.stdout),
            String::from_utf8_lossy(&first.stderr)
        );
    }
    let mut walls: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let output = Command::new(rulec)
            .args(["check", "--no-cache"])
            .arg(&pack)
            .output()?;
        walls.push(started.elapsed());
        if !output.status.success() {
            bail!("rulec check failed during the benchmark");
        }
    }
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "rulec check, {count} rules, {runs} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(walls[0]),
        ms(walls[walls.len() / 2]),
        ms(walls[walls.len() - 1])
    );
    println!("{}", String::from_utf8_lossy(&first.stderr).trim_end());
    Ok(())
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `taskset -c 0` works here.
pub(crate) fn can_pin() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `program`, pinned to CPU 0 when `pin`.
pub(crate) fn command(program: &Path, pin: bool) -> Command {
    if pin {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Where one pack's check time went: the `timings` of `rulec check --timings --format json`.
#[derive(Debug, PartialEq)]
pub(crate) struct Timings {
    pub(crate) load_check_ms: f64,
    pub(crate) planning_ms: f64,
    pub(crate) rules: usize,
    /// Every rule's planning time, by name.
    pub(crate) per_rule: BTreeMap<String, f64>,
    /// Planning by phase, summed over the rules (`sql-to-rel`, `analyzer`, `optimizer`,
    /// `fingerprint`), and by pipeline pass (`optimizer/...`), in ms.
    pub(crate) phases: BTreeMap<String, f64>,
}

/// Reads the `timings` of a `rulec check --timings --format json` report.
fn parse_timings(report: &serde_json::Value) -> Option<Timings> {
    let timings = report.get("timings")?;
    let map = |key: &str| -> Option<BTreeMap<String, f64>> {
        timings[key]
            .as_object()?
            .iter()
            .map(|(name, ms)| Some((name.clone(), ms.as_f64()?)))
            .collect()
    };
    let per_rule = map("rules")?;
    let mut phases = map("phases")?;
    phases.extend(map("passes")?);
    Some(Timings {
        load_check_ms: timings["load_check_ms"].as_f64()?,
        planning_ms: timings["planning_ms"].as_f64()?,
        rules: per_rule.len(),
        per_rule,
        phases,
    })
}

/// `rulec check --no-cache --timings --format json PACK`: its output, and its timings.
pub(crate) fn check_timings(
    rulec: &Path,
    pack: &Path,
    pin: bool,
) -> anyhow::Result<(Output, Timings)> {
    let output = command(rulec, pin)
        .args(["check", "--no-cache", "--timings", "--format", "json"])
        .arg(pack)
        .output()
        .with_context(|| format!("cannot run {}", rulec.display()))?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "`rulec check --timings --format json {}` printed no report:\n{}",
            pack.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let Some(timings) = parse_timings(&report) else {
        bail!(
            "the report of `rulec check --timings {}` has no timings:\n{report}",
            pack.display()
        );
    };
    Ok((output, timings))
}

/// The first finding of a `rulec check --format json` report, as `CODE message`.
pub(crate) fn first_finding(stdout: &[u8]) -> String {
    let report: serde_json::Value = serde_json::from_slice(stdout).unwrap_or_default();
    let rules = report["rules"].as_array().into_iter().flatten();
    let mut findings = report["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(rules.flat_map(|r| r["diagnostics"].as_array().into_iter().flatten()));
    findings.next().map_or_else(
        || "check failed".to_owned(),
        |d| {
            format!(
                "{} {}",
                d["code"].as_str().unwrap_or("?"),
                d["message"].as_str().unwrap_or("")
            )
        },
    )
}

/// The median (the mean of the middle two of an even count), as Python's
/// `statistics.median`; NaN when empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_timings() {
        let report = serde_json::json!({
            "rules": [],
            "timings": {
                "load_check_ms": 381.3,
                "planning_ms": 353.0,
                "rules": {"q07": 35.06, "q02": 32.88},
                "phases": {"sql-to-rel": 2.5, "analyzer": 3.0, "optimizer": 30.1, "fingerprint": 1.2},
                "passes": {"optimizer/rulec_canonicalize": 9.5}
            }
        });
        let t = parse_timings(&report).expect("parses");
        assert!((t.phases["sql-to-rel"] - 2.5).abs() < 1e-9);
        assert!((t.phases["optimizer"] - 30.1).abs() < 1e-9);
        assert!((t.phases["optimizer/rulec_canonicalize"] - 9.5).abs() < 1e-9);
        assert_eq!(t.phases.len(), 5);
        assert_eq!(t.rules, 2);
        assert!((t.load_check_ms - 381.3).abs() < 1e-9);
        assert!((t.planning_ms - 353.0).abs() < 1e-9);
        assert!((t.per_rule["q02"] - 32.88).abs() < 1e-9);
        assert_eq!(parse_timings(&serde_json::json!({"rules": []})), None);
    }

    #[test]
    fn medians() {
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < 1e-12);
        assert!((median(&[4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-12);
        assert!(median(&[]).is_nan());
    }
}
