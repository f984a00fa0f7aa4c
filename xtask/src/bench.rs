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
//!    median across queries and the total. `--timings` prints only the five slowest rules, so
//!    each pack is split into packs of [`GROUP`] rules (plus a warm-up rule, which takes the
//!    process's one-time costs and is not counted) under `<target>/bench/split-*`, each
//!    checked once per run. The per-rule time does not include sqlparser's parse (done when
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
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The SQLGlot release the comparison installs and expects.
pub const SQLGLOT_VERSION: &str = "30.30.0";

/// Rules per split pack: with the warm-up rule, `--timings` (the five slowest) shows all.
pub const GROUP: usize = 4;

/// The TPC packs compared with SQLGlot: (label, pack directory under the workspace root).
const TPC_PACKS: &[(&str, &str)] = &[("TPC-H", "rules/tpch"), ("TPC-DS", "rules/tpcds")];

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
        tpc_benchmark(root, &bench, &rulec, runs, options)?;
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

/// rulec on one TPC pack.
struct RulecPack {
    /// Per rule, the median over the runs of its compile time (ms).
    per_query: BTreeMap<String, f64>,
    /// Rules whose split pack did not check clean, with the reason (not timed).
    failed: Vec<(String, String)>,
    /// Whole pack, median over the runs: `load+check` and the planning total (ms).
    load_check_ms: f64,
    planning_ms: f64,
    /// Whole pack, median over the runs: planning by phase and costliest pass (ms).
    phases: BTreeMap<String, f64>,
}

/// SQLGlot on one TPC pack (what `xtask/sqlglot_bench.py` prints).
struct SqlglotPack {
    per_query: BTreeMap<String, f64>,
    failed: Vec<(String, String)>,
    version: String,
    compiled: bool,
    python: String,
}

/// The TPC packs, rulec per query and SQLGlot per query, and their ratios.
fn tpc_benchmark(
    root: &Path,
    bench: &Path,
    rulec: &Path,
    runs: usize,
    options: &Options,
) -> anyhow::Result<()> {
    let pin = can_pin();
    println!();
    if pin {
        println!(
            "TPC packs: rulec and SQLGlot pinned to CPU 0 (taskset -c 0; rulec plans on one thread)"
        );
    } else {
        println!("TPC packs: not pinned to a CPU (no taskset): rulec plans on every CPU");
    }
    let python = if options.sqlglot {
        match sqlglot_python(bench, &options.python) {
            Ok(python) => Some(python),
            Err(why) => {
                println!("SQLGlot comparison skipped: {why}");
                None
            }
        }
    } else {
        println!("SQLGlot comparison skipped (--no-sqlglot)");
        None
    };
    let script = root.join("xtask/sqlglot_bench.py");
    let mut report = Vec::new();
    for (label, dir) in TPC_PACKS {
        let pack = root.join(dir);
        let name = pack
            .file_name()
            .map_or_else(|| (*dir).to_owned(), |n| n.to_string_lossy().into_owned());
        println!("\n{label} ({dir}), {runs} runs:");
        let rulec_side = tpc_rulec(
            rulec,
            &pack,
            &bench.join(format!("split-{name}")),
            runs,
            pin,
        )
        .map_err(|err| println!("  rulec: skipped: {err:#}"))
        .ok();
        if let Some(r) = &rulec_side {
            print_rulec(r);
        }
        let sqlglot_side = python.as_ref().and_then(|python| {
            tpc_sqlglot(python, &script, &pack, runs, pin)
                .map_err(|err| println!("  SQLGlot: skipped: {err:#}"))
                .ok()
        });
        if let Some(s) = &sqlglot_side {
            print_sqlglot(s);
        }
        report.push(pack_report(
            label,
            dir,
            rulec_side.as_ref(),
            sqlglot_side.as_ref(),
        ));
    }
    let results = bench.join("tpc.json");
    let document = json!({
        "runs": runs,
        "pinned_to_one_cpu": pin,
        "rulec": rulec.display().to_string(),
        "packs": report,
    });
    std::fs::create_dir_all(bench)?;
    std::fs::write(&results, serde_json::to_string_pretty(&document)? + "\n")?;
    println!("\nper-query figures: {}", results.display());
    Ok(())
}

fn print_rulec(r: &RulecPack) {
    let medians: Vec<f64> = r.per_query.values().copied().collect();
    println!(
        "  rulec whole pack:  load+check {:.1} ms, planning {:.1} ms (medians over the runs); outside planning (load, parse, lints, Substrait check) {:.1} ms",
        r.load_check_ms,
        r.planning_ms,
        r.load_check_ms - r.planning_ms
    );
    let phase = |name: &str| r.phases.get(name).copied().unwrap_or(f64::NAN);
    println!(
        "  rulec planning by phase: sql-to-rel {:.1} ms, analyzer {:.1} ms, optimizer {:.1} ms (of which rulec_canonicalize {:.1} ms), fingerprint {:.1} ms",
        phase("sql-to-rel"),
        phase("analyzer"),
        phase("optimizer"),
        phase("optimizer/rulec_canonicalize"),
        phase("fingerprint"),
    );
    if let Some((slowest, ms)) = slowest(&r.per_query) {
        println!(
            "  rulec per query:   {} queries: median {:.2} ms, total {:.1} ms, slowest {slowest} {ms:.2} ms",
            medians.len(),
            median(&medians),
            medians.iter().sum::<f64>()
        );
    }
    for (rule, why) in &r.failed {
        println!("  rulec failed on {rule}: {why}");
    }
}

fn print_sqlglot(s: &SqlglotPack) {
    let medians: Vec<f64> = s.per_query.values().copied().collect();
    let build = if s.compiled {
        "compiled"
    } else {
        "pure Python"
    };
    if let Some((slowest, ms)) = slowest(&s.per_query) {
        println!(
            "  SQLGlot {} ({build}, Python {}) optimize per query: {} queries: median {:.2} ms, total {:.1} ms, slowest {slowest} {ms:.2} ms",
            s.version,
            s.python,
            medians.len(),
            median(&medians),
            medians.iter().sum::<f64>()
        );
    }
    if s.failed.is_empty() {
        println!("  SQLGlot failed on no query");
    }
    for (query, why) in &s.failed {
        println!("  SQLGlot failed on {query} (excluded): {why}");
    }
}

/// Prints the ratios and returns the pack's entry of `tpc.json`.
fn pack_report(
    label: &str,
    dir: &str,
    rulec: Option<&RulecPack>,
    sqlglot: Option<&SqlglotPack>,
) -> Value {
    let mut entry = json!({"pack": label, "dir": dir});
    let failures = |failed: &[(String, String)]| -> Vec<Value> {
        failed
            .iter()
            .map(|(q, why)| json!({"name": q, "error": why}))
            .collect()
    };
    let summary = |per_query: &BTreeMap<String, f64>| {
        let medians: Vec<f64> = per_query.values().copied().collect();
        (
            round3(median(&medians)),
            round3(medians.iter().sum::<f64>()),
        )
    };
    if let Some(r) = rulec {
        let (median_ms, total_ms) = summary(&r.per_query);
        entry["rulec"] = json!({
            "load_check_ms": round3(r.load_check_ms),
            "planning_ms": round3(r.planning_ms),
            "planning_phases_ms": r.phases.iter().map(|(k, v)| (k.clone(), json!(round3(*v)))).collect::<serde_json::Map<_, _>>(),
            "median_ms": median_ms,
            "total_ms": total_ms,
            "failed": failures(&r.failed),
        });
    }
    if let Some(s) = sqlglot {
        let (median_ms, total_ms) = summary(&s.per_query);
        entry["sqlglot"] = json!({
            "version": s.version,
            "compiled": s.compiled,
            "python": s.python,
            "median_ms": median_ms,
            "total_ms": total_ms,
            "failed": failures(&s.failed),
        });
    }
    // Per query: each side's median over the runs (ms) and SQLGlot / rulec.
    let mut queries = serde_json::Map::new();
    let names: std::collections::BTreeSet<&String> = rulec
        .iter()
        .flat_map(|r| r.per_query.keys())
        .chain(sqlglot.iter().flat_map(|s| s.per_query.keys()))
        .collect();
    for name in names {
        let rm = rulec.and_then(|r| r.per_query.get(name)).copied();
        let sm = sqlglot.and_then(|s| s.per_query.get(name)).copied();
        let ratio = rm.zip(sm).map(|(rm, sm)| round3(sm / rm));
        queries.insert(
            name.clone(),
            json!({"rulec_ms": rm.map(round3), "sqlglot_ms": sm.map(round3), "ratio": ratio}),
        );
    }
    entry["queries"] = queries.into();
    let (Some(r), Some(s)) = (rulec, sqlglot) else {
        return entry;
    };
    // Only the queries both handle.
    let both: Vec<(&String, f64, f64)> = r
        .per_query
        .iter()
        .filter_map(|(q, &rm)| s.per_query.get(q).map(|&sm| (q, rm, sm)))
        .collect();
    if both.is_empty() {
        println!("  no query both rulec and SQLGlot handle: no ratio");
        return entry;
    }
    let excluded: Vec<&String> = r
        .per_query
        .keys()
        .chain(s.per_query.keys())
        .chain(r.failed.iter().map(|(q, _)| q))
        .chain(s.failed.iter().map(|(q, _)| q))
        .filter(|q| !both.iter().any(|(b, _, _)| b == q))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let rulec_ms: Vec<f64> = both.iter().map(|b| b.1).collect();
    let sqlglot_ms: Vec<f64> = both.iter().map(|b| b.2).collect();
    let median_ratio = median(&sqlglot_ms) / median(&rulec_ms);
    let total_ratio = sqlglot_ms.iter().sum::<f64>() / rulec_ms.iter().sum::<f64>();
    let mut per_query: Vec<(&String, f64)> = both.iter().map(|(q, rm, sm)| (*q, sm / rm)).collect();
    per_query.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (low, high) = (per_query[0], per_query[per_query.len() - 1]);
    println!(
        "  SQLGlot / rulec over {} queries: {median_ratio:.1}x (median per query), {total_ratio:.1}x (total); per query from {:.1}x ({}) to {:.1}x ({})",
        both.len(),
        low.1,
        low.0,
        high.1,
        high.0
    );
    // The whole pack's load+check includes what the per-rule time leaves out (parsing).
    let whole_ratio = (excluded.is_empty() && r.load_check_ms > 0.0)
        .then(|| sqlglot_ms.iter().sum::<f64>() / r.load_check_ms);
    if let Some(ratio) = whole_ratio {
        println!(
            "  SQLGlot total / rulec whole-pack load+check (parsing, contracts, lints and Substrait check included): {ratio:.1}x"
        );
    } else {
        let names: Vec<&str> = excluded.iter().map(|q| q.as_str()).collect();
        println!("  excluded from the ratios: {}", names.join(", "));
    }
    entry["ratio"] = json!({
        "queries": both.len(),
        "median": round3(median_ratio),
        "total": round3(total_ratio),
        "total_vs_whole_pack_load_check": whole_ratio.map(round3),
        "excluded": excluded,
    });
    entry
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `taskset -c 0` works here.
fn can_pin() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `program`, pinned to CPU 0 when `pin`.
fn command(program: &Path, pin: bool) -> Command {
    if pin {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// What `rulec check --timings` prints to stderr about one pack.
#[derive(Debug, PartialEq)]
struct Timings {
    load_check_ms: f64,
    planning_ms: f64,
    rules: usize,
    /// The slowest rules (five at most), by name.
    slowest: BTreeMap<String, f64>,
    /// Planning by phase, summed over the rules (`sql-to-rel`, `analyzer`, `optimizer`,
    /// `fingerprint`), and the costliest pipeline passes (`optimizer/...`), in ms.
    phases: BTreeMap<String, f64>,
}

/// Reads `rulec check --timings` (human text; JSON does not carry timings):
/// `rulec: PACK: load+check X ms; planning Y ms for N rules (Z ms per rule)`, then one
/// `  T ms  RULE` line per rule shown.
fn parse_timings(stderr: &str) -> Option<Timings> {
    fn after<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    }
    let mut lines = stderr.lines().skip_while(|l| !l.contains(": load+check "));
    let header = lines.next()?;
    let load_check_ms = after(header, ": load+check ")?;
    let planning_ms = after(header, "; planning ")?;
    let rules = after(header, " ms for ")?;
    let mut slowest = BTreeMap::new();
    let mut phases = BTreeMap::new();
    let mut in_phases = false;
    for line in lines {
        if let Some(list) = line.strip_prefix("rulec: phases: ") {
            for phase in list.split(", ") {
                if let [name, ms, "ms"] = phase.split_whitespace().collect::<Vec<_>>()[..]
                    && let Ok(ms) = ms.parse::<f64>()
                {
                    phases.insert(name.to_owned(), ms);
                }
            }
            in_phases = true;
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (ms, name) = match parts.as_slice() {
            [ms, "ms", name] => match ms.parse::<f64>() {
                Ok(ms) => (ms, (*name).to_owned()),
                Err(_) => break,
            },
            _ => break,
        };
        if in_phases {
            phases.insert(name, ms);
        } else {
            slowest.insert(name, ms);
        }
    }
    Some(Timings {
        load_check_ms,
        planning_ms,
        rules,
        slowest,
        phases,
    })
}

fn check_timings(rulec: &Path, pack: &Path, pin: bool) -> anyhow::Result<(Output, Timings)> {
    let output = command(rulec, pin)
        .args(["check", "--no-cache", "--timings"])
        .arg(pack)
        .output()
        .with_context(|| format!("cannot run {}", rulec.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let Some(timings) = parse_timings(&stderr) else {
        bail!(
            "cannot read the output of `rulec check --timings {}`:\n{stderr}",
            pack.display()
        );
    };
    Ok((output, timings))
}

/// The rule files of `pack` (as rulec finds them: `.sql` below the root, outside hidden
/// directories and `contracts/`, `data/`, `out/`, `target/`), by rule name.
fn rule_files(pack: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    fn walk(dir: &Path, top: bool, out: &mut BTreeMap<String, PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if !(top && ["contracts", "data", "out", "target"].contains(&name.as_str())) {
                    walk(&path, false, out)?;
                }
            } else if let Some(stem) = name.strip_suffix(".sql") {
                out.insert(stem.to_owned(), path);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(pack, true, &mut out).with_context(|| format!("cannot read {}", pack.display()))?;
    Ok(out)
}

/// The split packs of `pack` under `split`: [`GROUP`] rules each, with `pack.yaml`, the
/// contracts, and a warm-up rule (a copy of the pack's first rule, named to plan first).
fn split_pack(pack: &Path, split: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<String>)>> {
    let rules = rule_files(pack)?;
    let Some(first) = rules.values().next() else {
        bail!("{} has no rules", pack.display());
    };
    if split.exists() {
        std::fs::remove_dir_all(split)?;
    }
    let names: Vec<&String> = rules.keys().collect();
    let mut groups = Vec::new();
    for (i, chunk) in names.chunks(GROUP).enumerate() {
        let dir = split.join(format!("g{i:03}"));
        std::fs::create_dir_all(dir.join("contracts"))?;
        std::fs::copy(pack.join("pack.yaml"), dir.join("pack.yaml"))?;
        for entry in std::fs::read_dir(pack.join("contracts"))? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::copy(
                    &path,
                    dir.join("contracts")
                        .join(path.file_name().unwrap_or_default()),
                )?;
            }
        }
        std::fs::copy(first, dir.join(format!("{WARM_UP}.sql")))?;
        for name in chunk {
            std::fs::copy(&rules[*name], dir.join(format!("{name}.sql")))?;
        }
        groups.push((dir, chunk.iter().map(|n| (*n).clone()).collect()));
    }
    Ok(groups)
}

/// The warm-up rule of a split pack (rules plan in name order on one thread).
const WARM_UP: &str = "a_warmup";

fn tpc_rulec(
    rulec: &Path,
    pack: &Path,
    split: &Path,
    runs: usize,
    pin: bool,
) -> anyhow::Result<RulecPack> {
    let (mut load_check, mut planning) = (Vec::new(), Vec::new());
    let mut phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        let (output, timings) = check_timings(rulec, pack, pin)?;
        if !output.status.success() {
            bail!(
                "`rulec check {}` failed:\n{}",
                pack.display(),
                String::from_utf8_lossy(&output.stdout)
            );
        }
        load_check.push(timings.load_check_ms);
        planning.push(timings.planning_ms);
        for (phase, ms) in timings.phases {
            phases.entry(phase).or_default().push(ms);
        }
    }
    let groups = split_pack(pack, split)?;
    let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..runs {
        for (dir, rules) in &groups {
            let (output, timings) = check_timings(rulec, dir, pin)?;
            if !output.status.success() {
                let text = String::from_utf8_lossy(&output.stdout);
                let first = text.lines().next().unwrap_or("check failed").to_owned();
                for rule in rules {
                    failed.entry(rule.clone()).or_insert_with(|| first.clone());
                }
                continue;
            }
            if timings.rules != rules.len() + 1 {
                bail!(
                    "{} checked {} rules, not {}",
                    dir.display(),
                    timings.rules,
                    rules.len() + 1
                );
            }
            for rule in rules {
                let Some(ms) = timings.slowest.get(rule) else {
                    bail!(
                        "`rulec check --timings {}` does not show {rule}",
                        dir.display()
                    );
                };
                times.entry(rule.clone()).or_default().push(*ms);
            }
        }
    }
    Ok(RulecPack {
        per_query: times
            .into_iter()
            .filter(|(rule, _)| !failed.contains_key(rule))
            .map(|(rule, t)| (rule, median(&t)))
            .collect(),
        failed: failed.into_iter().collect(),
        load_check_ms: median(&load_check),
        planning_ms: median(&planning),
        phases: phases
            .into_iter()
            .map(|(phase, ms)| (phase, median(&ms)))
            .collect(),
    })
}

/// The Python of SQLGlot's venv under `bench`, with [`SQLGLOT_VERSION`] installed (the venv
/// is created, and SQLGlot installed, on first use). Why not, when it cannot be had.
fn sqlglot_python(bench: &Path, python: &str) -> Result<PathBuf, String> {
    let venv = bench.join("sqlglot-venv");
    let venv_python = venv.join(if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    });
    let installed = |py: &Path| {
        Command::new(py)
            .args(["-c", "import sqlglot; print(sqlglot.__version__)"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if installed(&venv_python).as_deref() == Some(SQLGLOT_VERSION) {
        return Ok(venv_python);
    }
    let tail = |o: &Output| {
        let text = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n    ")
    };
    if !venv_python.is_file() {
        if venv.exists() {
            std::fs::remove_dir_all(&venv)
                .map_err(|err| format!("cannot remove {}: {err}", venv.display()))?;
        }
        println!("creating {} ({python} -m venv)", venv.display());
        let output = Command::new(python)
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|err| format!("cannot run `{python}` ({err}); pass --python PATH"))?;
        if !output.status.success() {
            return Err(format!("`{python} -m venv` failed:\n    {}", tail(&output)));
        }
    }
    println!(
        "installing sqlglot=={SQLGLOT_VERSION} into {}",
        venv.display()
    );
    let output = Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("sqlglot=={SQLGLOT_VERSION}"))
        .output()
        .map_err(|err| format!("cannot run {}: {err}", venv_python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "pip install sqlglot=={SQLGLOT_VERSION} failed:\n    {}",
            tail(&output)
        ));
    }
    match installed(&venv_python) {
        Some(v) if v == SQLGLOT_VERSION => Ok(venv_python),
        other => Err(format!(
            "the venv has sqlglot {other:?} after installing {SQLGLOT_VERSION}"
        )),
    }
}

fn tpc_sqlglot(
    python: &Path,
    script: &Path,
    pack: &Path,
    runs: usize,
    pin: bool,
) -> anyhow::Result<SqlglotPack> {
    let output = command(python, pin)
        .arg(script)
        .arg(pack)
        .args(["--runs", &runs.to_string()])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{} printed no JSON", script.display()))?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let per_query = report["queries"]
        .as_array()
        .context("no `queries` in the SQLGlot report")?
        .iter()
        .filter_map(|q| Some((text(&q["name"]), q["median_ms"].as_f64()?)))
        .collect();
    let failed = report["failed"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|q| (text(&q["name"]), text(&q["error"])))
                .collect()
        })
        .unwrap_or_default();
    Ok(SqlglotPack {
        per_query,
        failed,
        version: text(&report["sqlglot"]),
        compiled: report["compiled"].as_bool().unwrap_or(false),
        python: text(&report["python"]),
    })
}

fn slowest(per_query: &BTreeMap<String, f64>) -> Option<(&str, f64)> {
    per_query
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(q, ms)| (q.as_str(), *ms))
}

/// The median (the mean of the middle two of an even count), as Python's
/// `statistics.median`; NaN when empty.
fn median(values: &[f64]) -> f64 {
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
        let stderr = "rulec: rules/tpch: load+check 381.3 ms; planning 353.0 ms for 22 rules (16.05 ms per rule)\n     35.06 ms  q07\n     32.88 ms  q02\nrulec: phases: sql-to-rel 2.5 ms, analyzer 3.0 ms, optimizer 30.1 ms, fingerprint 1.2 ms\n      9.50 ms  optimizer/rulec_canonicalize\nrulec: 22 rules checked, no problems\n";
        let t = parse_timings(stderr).expect("parses");
        assert!((t.phases["sql-to-rel"] - 2.5).abs() < 1e-9);
        assert!((t.phases["optimizer"] - 30.1).abs() < 1e-9);
        assert!((t.phases["optimizer/rulec_canonicalize"] - 9.5).abs() < 1e-9);
        assert_eq!(t.phases.len(), 5);
        assert_eq!(t.rules, 22);
        assert!((t.load_check_ms - 381.3).abs() < 1e-9);
        assert!((t.planning_ms - 353.0).abs() < 1e-9);
        assert_eq!(t.slowest.len(), 2);
        assert!((t.slowest["q02"] - 32.88).abs() < 1e-9);
    }

    #[test]
    fn medians() {
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < 1e-12);
        assert!((median(&[4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-12);
        assert!(median(&[]).is_nan());
    }
}
