//! `cargo xtask bench`, part 2: per-query compile time on the TPC-H and TPC-DS packs,
//! against SQLGlot's `optimize` (see the `bench` module's doc for the method).

use crate::bench::{
    GROUP, Options, SQLGLOT_VERSION, TPC_PACKS, can_pin, check_timings, command, median, round3,
};
use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
pub(crate) fn tpc_benchmark(
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
                let first = super::bench::first_finding(&output.stdout);
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
                let Some(ms) = timings.per_rule.get(rule) else {
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
