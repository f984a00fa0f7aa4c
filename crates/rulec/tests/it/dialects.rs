//! The dialect corpus (`tests/fixtures/dialects/`): the same rule written for each engine
//! plans to the fingerprint of its DataFusion spelling, and what a dialect means that rulec
//! cannot keep is refused with its code and place.

use crate::support::{root, scratch};
use std::collections::BTreeMap;
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
    let mut per_dialect: BTreeMap<String, usize> = Default::default();
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

/// `rulec plan --dialect`: the canonical SQL of every TPC-H and CPG rule printed for each
/// engine reads back through rulec's reader for that dialect to the rule's fingerprint
/// (`canonical_sql_for` checks it). What an engine cannot express is noted, per the
/// policy's `unsupported:`, and only there.
#[test]
fn canonical_sql_for_each_engine_reads_back_to_the_fingerprint() {
    let dialects = ["datafusion", "duckdb", "postgres", "spark", "trino"];
    let mut notes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for pack_name in ["tpch", "cpg"] {
        let (pack, compiled) = crate::support::compile(&root().join("rules").join(pack_name));
        for dialect in dialects {
            let d = rulec_syntax::SqlDialect::from_name(dialect).expect("dialect");
            let mut refused = Vec::new();
            for rule in &pack.rules {
                match rulec_compile::canonical_sql_for(&pack, &compiled, &rule.name, d) {
                    Ok(printed) => {
                        assert!(!printed.sql.is_empty());
                        for note in &printed.unsupported {
                            let construct = note.split(':').next().unwrap_or_default();
                            *notes.entry((dialect, pack_name)).or_default() += 1;
                            assert!(
                                d.policy().and_then(|p| p.unsupported(construct)).is_some(),
                                "{dialect}: {note}"
                            );
                        }
                    }
                    Err(why) => refused.push(format!("{}: {why}", rule.name)),
                }
            }
            assert!(
                refused.is_empty(),
                "{pack_name} for {dialect}: refused:\n{}",
                refused.join("\n")
            );
        }
    }
    // TPC-H is flat: nothing in it is beyond any of the engines. The CPG builds structs and
    // maps, which PostgreSQL lacks and which Trino would need typed ROW casts for.
    assert!(!notes.keys().any(|(_, pack)| *pack == "tpch"), "{notes:?}");
    assert!(notes.contains_key(&("postgres", "cpg")), "{notes:?}");
    assert!(notes.contains_key(&("trino", "cpg")), "{notes:?}");
    for clean in ["datafusion", "duckdb", "spark"] {
        assert!(!notes.keys().any(|(d, _)| *d == clean), "{notes:?}");
    }
}

/// The CPG rules as a DuckDB user writes them (`tests/fixtures/cpg-duckdb/`: struct and map
/// literals, `::` casts, lateral unnests, bracket field access), read with `dialect: duckdb`
/// against the CPG contracts, plan to the fingerprints of the DataFusion spellings in
/// `rules/cpg`, rule by rule. (`cargo xtask duckdb` also runs them in DuckDB.)
#[test]
fn cpg_rules_written_for_duckdb_plan_to_the_cpg_fingerprints() {
    let cpg = root().join("rules/cpg");
    let pack = scratch("cpg-duckdb");
    crate::support::copy_tree(&cpg.join("contracts"), &pack.join("contracts"), &[]);
    std::fs::write(pack.join("pack.yaml"), "name: cpg\ndialect: duckdb\n").expect("pack.yaml");
    let spellings = root().join("tests/fixtures/cpg-duckdb");
    for entry in std::fs::read_dir(&spellings).expect("spellings").flatten() {
        if entry.path().extension().is_some_and(|e| e == "sql") {
            std::fs::copy(entry.path(), pack.join(entry.file_name())).expect("copy rule");
        }
    }
    let fingerprints = |dir: &Path| -> BTreeMap<String, Option<String>> {
        let (pack, compiled) = crate::support::compile(dir);
        assert_eq!(
            pack.dialect.name(),
            if dir == cpg { "datafusion" } else { "duckdb" }
        );
        compiled
            .rules
            .iter()
            .map(|r| (r.name.clone(), r.fingerprint.clone()))
            .collect()
    };
    let expected = fingerprints(&cpg);
    let got = fingerprints(&pack);
    assert_eq!(expected.len(), 9);
    assert!(expected.values().all(Option::is_some), "{expected:?}");
    assert_eq!(got, expected);
}

/// The emit rewrites of each policy, on the CPG rules: map lookups as `m['key']` (told from
/// struct fields by type), PostgreSQL's `(s).field`, Spark's `explode`, `named_struct` and
/// `map(k, v, …)`, Trino's `CROSS JOIN UNNEST` and `map(ARRAY[…], ARRAY[…])`, and the notes
/// on what PostgreSQL and Trino cannot express.
#[test]
fn canonical_sql_is_spelled_for_each_engine() {
    let (pack, compiled) = crate::support::compile(&root().join("rules/cpg"));
    let print = |rule: &str, dialect: &str| {
        let d = rulec_syntax::SqlDialect::from_name(dialect).expect("dialect");
        rulec_compile::canonical_sql_for(&pack, &compiled, rule, d).expect("printed")
    };
    let edges = print("libcst_edges", "trino");
    assert!(
        edges
            .sql
            .contains("CROSS JOIN UNNEST(\"libcst_files\".\"edges\") AS \"unnest_1\" (\"edge\")"),
        "{}",
        edges.sql
    );
    assert!(
        edges.sql.contains("\"edge\".\"attrs\"['field']"),
        "{}",
        edges.sql
    );
    assert!(
        !edges
            .sql
            .contains(" UNNEST(\"libcst_files\".\"edges\") AS \"edge\"")
    );
    assert!(edges.unsupported.is_empty(), "{:?}", edges.unsupported);

    let edges = print("libcst_edges", "spark");
    assert!(
        edges
            .sql
            .contains("explode(`libcst_files`.`edges`) AS `edge`"),
        "{}",
        edges.sql
    );
    assert!(
        edges.sql.contains("`f`.`edge`.`attrs`['field']"),
        "{}",
        edges.sql
    );

    let edges = print("libcst_edges", "postgres");
    assert!(
        edges.sql.contains("(\"f\".\"edge\").\"src\""),
        "{}",
        edges.sql
    );
    assert!(
        edges.sql.contains("(\"f\".\"edge\").\"attrs\"['field']"),
        "{}",
        edges.sql
    );
    assert_eq!(edges.unsupported.len(), 1, "{:?}", edges.unsupported);
    assert!(edges.unsupported[0].starts_with("map: PostgreSQL has no map type"));

    let graph_edges = print("cpg_edges", "spark");
    assert!(
        graph_edges
            .sql
            .contains("named_struct('namespace', 'libcst', 'file_id', `libcst_edges`.`file_id`"),
        "{}",
        graph_edges.sql
    );
    assert!(
        graph_edges
            .sql
            .contains("map('field', `libcst_edges`.`field`, 'index', CAST(`libcst_edges`.`position` AS STRING))"),
        "{}",
        graph_edges.sql
    );
    let graph_edges = print("cpg_edges", "trino");
    assert!(
        graph_edges
            .sql
            .contains("map(ARRAY['field', 'index'], ARRAY["),
        "{}",
        graph_edges.sql
    );
    let constructs: Vec<&str> = graph_edges
        .unsupported
        .iter()
        .map(|n| n.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(constructs, ["struct"]);
    let constructs: Vec<String> = print("cpg_edges", "postgres")
        .unsupported
        .iter()
        .map(|n| n.split(':').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(constructs, ["map", "struct"]);
    // DuckDB has every construct; its map lookups are subscripts too.
    let duck = print("libcst_edges", "duckdb");
    assert!(duck.unsupported.is_empty());
    assert!(
        duck.sql.contains("\"f\".\"edge\".\"attrs\"['index']"),
        "{}",
        duck.sql
    );
}

/// Runs `rules` (name, SQL) as a pack in `dialect` over `t(id, tags)` with the lists
/// `[a, b, c]`, `[]`, NULL, `[z]` and `[NULL, y]`: each product's rows, sorted, as
/// `id|…` strings.
fn run_over_lists(dialect: &str, rules: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    use arrow::array::{ArrayRef, Int64Array, ListBuilder, RecordBatch, StringBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let pack = scratch(&format!("lists-{dialect}"));
    std::fs::create_dir_all(pack.join("contracts")).expect("contracts");
    std::fs::create_dir_all(pack.join("data")).expect("data");
    std::fs::write(
        pack.join("contracts/t.yaml"),
        "table: t\ncolumns:\n  - {name: id, type: int64}\n  - {name: tags, type: \"list<utf8>\"}\n",
    )
    .expect("contract");
    std::fs::write(
        pack.join("pack.yaml"),
        format!("name: lists\ndialect: {dialect}\ninputs:\n  t: data/t.parquet\n"),
    )
    .expect("pack.yaml");
    let element = Arc::new(Field::new("element", DataType::Utf8, true));
    let mut tags = ListBuilder::new(StringBuilder::new()).with_field(Arc::clone(&element));
    let lists: [Option<&[Option<&str>]>; 5] = [
        Some(&[Some("a"), Some("b"), Some("c")]),
        Some(&[]),
        None,
        Some(&[Some("z")]),
        Some(&[None, Some("y")]),
    ];
    for list in lists {
        match list {
            Some(items) => {
                for item in items {
                    tags.values().append_option(*item);
                }
                tags.append(true);
            }
            None => tags.append(false),
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("tags", DataType::List(element), true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(1..=5)) as ArrayRef,
            Arc::new(tags.finish()) as ArrayRef,
        ],
    )
    .expect("batch");
    crate::support::write_parquet(&pack.join("data/t.parquet"), &batch);
    for (name, sql) in rules {
        std::fs::write(pack.join(format!("{name}.sql")), sql).expect("rule");
    }
    let out = pack.join("out");
    let run = crate::support::rulec(&[
        "run",
        pack.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    rules
        .iter()
        .map(|(name, _)| {
            let batches = crate::support::read_parquet(&crate::support::product_file(&out, name));
            (name.to_string(), crate::support::sorted_rows(&batches))
        })
        .collect()
}

fn rows(rows: &[&str]) -> Vec<String> {
    let mut rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    rows.sort();
    rows
}

/// The numbered and row-keeping unnests, run: `WITH ORDINALITY` numbers from 1 and `LEFT
/// JOIN … ON TRUE` keeps NULL and empty lists as one NULL element (Trino, PostgreSQL);
/// Spark's `posexplode` numbers from 0 and `explode_outer` / `LATERAL VIEW OUTER` keep rows
/// as Spark does. The rows are what those engines give for these lists.
#[test]
fn numbered_and_row_keeping_unnests_give_the_engines_rows() {
    let trino = run_over_lists(
        "trino",
        &[
            (
                "ordinality",
                "SELECT t.id, u.tag, u.n FROM t CROSS JOIN UNNEST(t.tags) WITH ORDINALITY AS u(tag, n)",
            ),
            (
                "left_ordinality",
                "SELECT t.id, u.tag, u.n FROM t LEFT JOIN UNNEST(t.tags) WITH ORDINALITY AS u(tag, n) ON TRUE",
            ),
        ],
    );
    let numbered = ["1|a|1", "1|b|2", "1|c|3", "4|z|1", "5||1", "5|y|2"];
    assert_eq!(trino["ordinality"], rows(&numbered));
    let kept = [&numbered[..], &["2||", "3||"]].concat();
    assert_eq!(trino["left_ordinality"], rows(&kept));

    let spark = run_over_lists(
        "spark",
        &[
            ("posexplode", "SELECT id, posexplode(tags) FROM t"),
            (
                "lateral_view",
                "SELECT t.id, v.p, v.x FROM t LATERAL VIEW posexplode(t.tags) v AS p, x",
            ),
            (
                "explode_outer",
                "SELECT id, explode_outer(tags) AS tag FROM t",
            ),
            (
                "lateral_view_outer",
                "SELECT id, x FROM t LATERAL VIEW OUTER explode(tags) v AS x",
            ),
        ],
    );
    let positions = rows(&["1|0|a", "1|1|b", "1|2|c", "4|0|z", "5|0|", "5|1|y"]);
    assert_eq!(spark["posexplode"], positions);
    assert_eq!(spark["lateral_view"], positions);
    let outer = rows(&["1|a", "1|b", "1|c", "2|", "3|", "4|z", "5|", "5|y"]);
    assert_eq!(spark["explode_outer"], outer);
    assert_eq!(spark["lateral_view_outer"], outer);
}
