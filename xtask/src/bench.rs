//! `cargo xtask bench`: the check-speed benchmark.
//!
//! Generates a pack of 200 rules over the CPG contracts (a layered DAG: unnest views per
//! LibCST node kind and SCIP role, span joins, per-file aggregates, unions and summaries),
//! builds rulec in release mode, and times `rulec check` on it: wall time over repeated
//! runs (min, median, max) and the per-rule planning times rulec reports with `--timings`.
//! Timing lives here, never in tests: the machines are shared and noisy.

use anyhow::{Context as _, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

pub fn run(root: &Path, rules: usize, runs: usize, debug: bool) -> anyhow::Result<()> {
    let pack = root.join("target/bench").join(format!("pack{rules}"));
    let count = generate_pack(root, &pack, rules)?;
    println!("generated {count} rules in {}", pack.display());
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build.args(["build", "-p", "rulec"]);
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
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let rulec = target.join(if debug {
        "debug/rulec"
    } else {
        "release/rulec"
    });
    if debug {
        println!("(debug build: these timings are not the benchmark's result)");
    }
    // One run to check the pack is clean and to collect per-rule timings.
    let first = Command::new(&rulec)
        .args(["check", "--timings"])
        .arg(&pack)
        .output()?;
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
        let output = Command::new(&rulec).arg("check").arg(&pack).output()?;
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
