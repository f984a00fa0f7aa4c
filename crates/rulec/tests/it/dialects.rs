//! The dialect corpus (`tests/fixtures/dialects/`): the same rule written for each engine
//! plans to the fingerprint of its DataFusion spelling, and what a dialect means that rulec
//! cannot keep is refused with its code and place.

use crate::support::{root, scratch};
use std::path::Path;

/// Plans `sql` as rule `r` of a pack in `dialect` over the corpus contracts: its fingerprint,
/// or its error findings as `CODE line:column`.
fn plan(work: &Path, dialect: &str, sql: &str) -> Result<String, Vec<String>> {
    let pack = work.join(dialect);
    let _ = std::fs::remove_dir_all(&pack);
    crate::support::copy_tree(
        &root().join("tests/fixtures/dialects/contracts"),
        &pack.join("contracts"),
        &[],
    );
    std::fs::write(
        pack.join("pack.yaml"),
        format!(
            "name: corpus\ndialect: {dialect}\ninputs:\n  t: data/t.parquet\n  u: data/u.parquet\nlints:\n  unused-input: allow\n"
        ),
    )
    .expect("pack.yaml");
    std::fs::write(pack.join("r.sql"), sql).expect("rule");
    let project = rulec_driver::Project::load(&pack).expect("load");
    let errors: Vec<String> = project
        .all_diagnostics()
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = d
                .span
                .map(|s| format!("{}:{}", s.start.line, s.start.column))
                .unwrap_or_default();
            format!("{} {at} {}", d.code.code, d.message)
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    project
        .compiled
        .as_ref()
        .and_then(|c| c.rule("r"))
        .and_then(|r| r.fingerprint.clone())
        .ok_or_else(|| vec!["no fingerprint".to_owned()])
}

#[test]
fn every_dialect_spelling_has_the_fingerprint_of_its_datafusion_spelling() {
    let corpus = root().join("tests/fixtures/dialects");
    let work = scratch("dialect-corpus");
    let mut problems = Vec::new();
    let mut per_dialect: std::collections::BTreeMap<String, usize> = Default::default();
    let mut cases: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "contracts"))
        .collect();
    cases.sort();
    for case in cases {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let reference = std::fs::read_to_string(case.join("datafusion.sql")).ok();
        let expected = reference
            .as_deref()
            .map(|sql| plan(&work, "datafusion", sql));
        if let Some(Err(e)) = &expected {
            problems.push(format!("{name}/datafusion.sql does not plan: {e:?}"));
            continue;
        }
        let mut files: Vec<_> = std::fs::read_dir(&case)
            .expect("case")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        for file in files {
            let dialect = file
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            if dialect == "datafusion" {
                continue;
            }
            *per_dialect.entry(dialect.clone()).or_default() += 1;
            let sql = std::fs::read_to_string(&file).expect("read");
            let got = plan(&work, &dialect, &sql);
            let refusal = std::fs::read_to_string(case.join(format!("{dialect}.expect"))).ok();
            match (refusal, got, &expected) {
                (Some(expect), Err(found), _) => {
                    let expect = expect.trim();
                    if !found.iter().any(|f| f.starts_with(&format!("{expect} "))) {
                        problems.push(format!(
                            "{name}/{dialect}: expected {expect}, found {found:?}"
                        ));
                    }
                }
                (Some(expect), Ok(_), _) => {
                    problems.push(format!(
                        "{name}/{dialect}: expected {expect}, but it planned"
                    ));
                }
                (None, Ok(fingerprint), Some(Ok(reference))) => {
                    if &fingerprint != reference {
                        problems.push(format!(
                            "{name}/{dialect}: another fingerprint than datafusion.sql"
                        ));
                    }
                }
                (None, Err(found), _) => {
                    problems.push(format!("{name}/{dialect} does not plan: {found:?}"));
                }
                (None, Ok(_), _) => {
                    problems.push(format!(
                        "{name}/{dialect}: no datafusion.sql to compare with"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for dialect in ["duckdb", "postgres", "spark", "trino"] {
        assert!(
            per_dialect.get(dialect).copied().unwrap_or(0) >= 8,
            "{per_dialect:?}"
        );
    }
}

/// `rulec plan --dialect`: the canonical SQL of each TPC-H and CPG rule printed for each
/// engine reads back through rulec's reader for that dialect to the rule's fingerprint
/// (`canonical_sql_for` checks it), or says why not. The floors are what prints today; a
/// rule that stops printing is a regression.
#[test]
fn canonical_sql_for_each_engine_reads_back_to_the_fingerprint() {
    let floors = [("tpch", [22, 19, 22, 21, 22]), ("cpg", [9, 9, 5, 5, 9])];
    let dialects = ["datafusion", "duckdb", "postgres", "spark", "trino"];
    for (pack_name, floor) in floors {
        let (pack, compiled) = crate::support::compile(&root().join("rules").join(pack_name));
        for (dialect, floor) in dialects.iter().zip(floor) {
            let d = rulec_syntax::SqlDialect::from_name(dialect).expect("dialect");
            let mut printed = 0;
            let mut refused = Vec::new();
            for rule in &pack.rules {
                match rulec_compile::canonical_sql_for(&pack, &compiled, &rule.name, d) {
                    Ok(sql) => {
                        assert!(!sql.is_empty());
                        printed += 1;
                    }
                    Err(why) => {
                        assert!(why.contains(dialect), "{pack_name}/{}: {why}", rule.name);
                        refused.push(format!("{}: {why}", rule.name));
                    }
                }
            }
            assert!(
                printed >= floor,
                "{pack_name} for {dialect}: {printed} printed, {floor} before; refused:\n{}",
                refused.join("\n")
            );
        }
    }
}
