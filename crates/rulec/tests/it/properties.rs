//! Property tests (proptest): over generated formatting, keyword case and comments (with
//! and without alias renaming) of every CPG and TPC-H rule, the fingerprint does not move
//! and canonicalizing the canonical plan again changes nothing; over generated data, the
//! Substrait round trip keeps a plan's schema and its results.
//!
//! `PROPTEST_CASES` sets the number of cases per property (default 24, kept small for CI);
//! `PROPTEST_CASES=2000 cargo test -p rulec --test it properties` is a longer local run.

use crate::execute::{Tables, execute, rows, same_rows};
use crate::mutate::{self, Invariant};
use crate::support::{compile, root};
use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rulec_compile::{CompiledPack, Pipeline, fingerprint, plan_sql};
use rulec_pack::Pack;
use rulec_syntax::sqlparser::dialect::GenericDialect;
use rulec_syntax::sqlparser::keywords::Keyword;
use rulec_syntax::sqlparser::tokenizer::{Token, Tokenizer};
use std::sync::Arc;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Separators a token boundary may get instead of the one written.
const SEPARATORS: &[&str] = &[
    " ",
    "\t",
    "\n",
    "   ",
    "\r\n",
    " /* note */ ",
    "\n-- note\n",
    "\n\n\t",
];

/// `sql` with every separator replaced by one picked by `picks` and every keyword's letters
/// in the case picked by `cases` (literals, quoted identifiers and operators untouched).
fn reformat(sql: &str, picks: &[u8], cases: &[bool]) -> String {
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .expect("a rule tokenizes");
    let mut out = String::new();
    let (mut p, mut c) = (0usize, 0usize);
    for token in tokens {
        match &token {
            Token::Whitespace(_) => {
                let pick = picks.get(p % picks.len().max(1)).copied().unwrap_or(0);
                out.push_str(SEPARATORS[usize::from(pick) % SEPARATORS.len()]);
                p += 1;
            }
            Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => {
                for ch in w.value.chars() {
                    let upper = cases.get(c % cases.len().max(1)).copied().unwrap_or(true);
                    c += 1;
                    if upper {
                        out.extend(ch.to_uppercase());
                    } else {
                        out.extend(ch.to_lowercase());
                    }
                }
            }
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

struct Subject {
    pack: Pack,
    compiled: CompiledPack,
}

fn subjects() -> Vec<Subject> {
    ["cpg", "tpch"]
        .iter()
        .map(|name| {
            let (pack, compiled) = compile(&root().join("rules").join(name));
            Subject { pack, compiled }
        })
        .collect()
}

#[test]
fn fingerprints_hold_under_generated_formatting_and_aliases() {
    let subjects = subjects();
    let rules: Vec<(usize, String, String, String)> = subjects
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.pack.rules.iter().map(move |r| {
                let fp = s
                    .compiled
                    .rule(&r.name)
                    .and_then(|c| c.fingerprint.clone())
                    .expect("fingerprint");
                (i, r.name.clone(), r.text.clone(), fp)
            })
        })
        .collect();
    let pipeline = Pipeline::new();
    let strategy = (
        0..rules.len(),
        proptest::collection::vec(any::<u8>(), 1..64),
        proptest::collection::vec(any::<bool>(), 1..64),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |(index, picks, cases, rename)| {
            let (subject, name, text, original) = &rules[index];
            let subject = &subjects[*subject];
            let mut sql = reformat(text, &picks, &cases);
            if rename && let Some(renamed) = mutate::invariant(&sql, &[Invariant::AliasRenaming]) {
                sql = renamed;
            }
            let plan = plan_sql(&subject.pack, &subject.compiled, name, &sql)
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}\n{sql}")))?;
            prop_assert_eq!(
                &fingerprint(&pipeline, &plan),
                original,
                "{}:\n{}",
                name,
                sql
            );
            // Idempotence: the canonical plan canonicalized again is the same plan.
            let again = pipeline
                .run(plan.clone(), |_, _| {})
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            prop_assert_eq!(
                &again,
                &plan,
                "{}: canonicalizing twice changed the plan",
                name
            );
            Ok(())
        })
        .expect("property holds");
}

/// Rules over one generated table, for the Substrait round trip.
const ROUND_TRIP_RULES: &[(&str, &str)] = &[
    (
        "per_kind",
        "SELECT kind, count(*) AS n, sum(size) AS total, max(id) AS last FROM events GROUP BY kind",
    ),
    (
        "filtered",
        "SELECT id, size * 2 AS doubled FROM events WHERE size > 10 AND kind IN ('a', 'c') OR size IS NULL",
    ),
    (
        "self_join",
        "SELECT a.id, b.id AS other FROM events a JOIN events b ON a.size = b.id WHERE a.kind <> b.kind",
    ),
    (
        "ranked",
        "SELECT id, row_number() OVER (PARTITION BY kind ORDER BY size, id) AS r FROM events",
    ),
    (
        "subqueries",
        "SELECT id FROM events e WHERE size > (SELECT avg(size) FROM events) AND EXISTS (SELECT 1 FROM events x WHERE x.id = e.size)",
    ),
    (
        // Four mark joins: each adds a `mark` column, which Substrait cannot alias.
        "mark_joins",
        "SELECT id, kind FROM events e WHERE EXISTS (SELECT 1 FROM events x WHERE x.kind = e.kind AND x.id <> e.id) OR size IN (SELECT count(*) FROM events GROUP BY kind) OR id IN (SELECT size FROM events) OR NOT EXISTS (SELECT 1 FROM events y WHERE y.size = e.id)",
    ),
    (
        "distinct_union",
        "SELECT DISTINCT kind FROM events UNION ALL SELECT CAST(size AS VARCHAR) FROM events WHERE id < 3",
    ),
];

#[test]
fn substrait_round_trip_keeps_schema_and_results_on_generated_data() {
    let dir = crate::support::scratch("properties_round_trip");
    std::fs::create_dir_all(dir.join("contracts")).expect("mkdir");
    std::fs::write(
        dir.join("pack.yaml"),
        "name: generated\ninputs:\n  events: data/events.parquet\n",
    )
    .expect("pack.yaml");
    std::fs::write(
        dir.join("contracts/events.yaml"),
        "table: events\ncolumns:\n  - {name: id, type: int64, nullable: false}\n  - {name: kind, type: utf8}\n  - {name: size, type: int64}\n",
    )
    .expect("contract");
    for (name, sql) in ROUND_TRIP_RULES {
        std::fs::write(dir.join(format!("{name}.sql")), sql).expect("rule");
    }
    let (pack, compiled) = compile(&dir);
    let schema = Arc::clone(&pack.contracts["events"].schema);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let row = (
        proptest::option::of(0usize..4),
        proptest::option::of(-5i64..40),
    );
    let strategy = proptest::collection::vec(row, 0..60);
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |generated| {
            let kinds = ["a", "b", "c", "é"];
            let ids = Int64Array::from_iter_values(0..i64::try_from(generated.len()).unwrap_or(0));
            let kind = StringArray::from_iter(generated.iter().map(|(k, _)| k.map(|k| kinds[k])));
            let size = Int64Array::from_iter(generated.iter().map(|(_, s)| *s));
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(ids) as ArrayRef,
                    Arc::new(kind) as ArrayRef,
                    Arc::new(size) as ArrayRef,
                ],
            )
            .expect("batch");
            let table =
                Arc::new(MemTable::try_new(Arc::clone(&schema), vec![vec![batch]]).expect("table"));
            let mut tables = Tables::new();
            tables.insert("events".to_owned(), table.clone());
            let ctx = SessionContext::new_with_state(rulec_exec::runtime_session());
            ctx.register_table("events", table).expect("register");
            for (name, _) in ROUND_TRIP_RULES {
                let plan = compiled
                    .rule(name)
                    .and_then(|r| r.plan.as_ref())
                    .expect("compiles");
                let substrait = rulec_substrait::to_substrait(plan).expect("encodes");
                let consumed = runtime
                    .block_on(rulec_substrait::from_substrait(&ctx.state(), &substrait))
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                let fields = |p: &datafusion::logical_expr::LogicalPlan| -> Vec<(String, String)> {
                    p.schema()
                        .fields()
                        .iter()
                        .map(|f| (f.name().clone(), f.data_type().to_string()))
                        .collect()
                };
                prop_assert_eq!(fields(&consumed), fields(plan), "{}: schema", name);
                let direct = runtime
                    .block_on(execute(plan, &tables))
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                let through = runtime
                    .block_on(execute(&consumed, &tables))
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                prop_assert!(
                    same_rows(&rows(&direct), &rows(&through)),
                    "{}: rows differ after the Substrait round trip",
                    name
                );
            }
            Ok(())
        })
        .expect("property holds");
}
