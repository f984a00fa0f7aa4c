//! The `rulec run` fixture corpus: `tests/fixtures/run/<case>/`, each laid over
//! `tests/fixtures/run/_base/` (inputs `t`, a file, and `d`, a directory, with rows the
//! harness writes). Every case's run must end with its `expect.json`'s exit code and print
//! each of its codes; a `setup` names what the harness does first (`hold-lock`: another
//! process's lock on the output directory).

use crate::support::{Corpus, write_parquet};
use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;
use std::process::Command;
use std::sync::Arc;

/// Rows of `t` and `d`: ids 0..100, names repeating every 7 ids.
fn rows() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..100)),
            Arc::new(StringArray::from_iter_values(
                (0..100).map(|i| format!("name-{}", i % 7)),
            )),
        ],
    )
    .expect("rows")
}

#[test]
fn run_fixture_corpus() {
    let corpus = Corpus::at("tests/fixtures/run");
    let cases = corpus.cases();
    assert!(cases.len() >= 6, "the corpus has {} cases", cases.len());
    let mut problems = Vec::new();
    for case in &cases {
        let expect: Value = serde_json::from_str(
            &std::fs::read_to_string(corpus.file(case, "expect.json")).expect("expect"),
        )
        .unwrap_or_else(|e| panic!("{case}/expect.json: {e}"));
        let work = crate::support::scratch(&format!("run-fixtures/{case}"));
        let pack = work.join("pack");
        corpus.base(&pack);
        corpus.lay(case, &pack, &["expect.json"]);
        std::fs::create_dir_all(pack.join("data/d")).expect("data");
        write_parquet(&pack.join("data/t.parquet"), &rows());
        write_parquet(&pack.join("data/d/part-0.parquet"), &rows());
        let out = work.join("out");
        std::fs::create_dir_all(&out).expect("out");

        let _lock = match expect["setup"].as_str() {
            None => None,
            Some("hold-lock") => {
                let lock = std::fs::File::create(out.join(".rulec.lock")).expect("lock file");
                lock.lock().expect("hold the lock");
                Some(lock)
            }
            Some(other) => panic!("{case}: unknown setup `{other}`"),
        };
        let output = Command::new(env!("CARGO_BIN_EXE_rulec"))
            .arg("run")
            .arg(&pack)
            .arg("--out")
            .arg(&out)
            .args(["--format", "json", "--no-wait"])
            .output()
            .expect("run rulec");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let exit = expect["exit"].as_i64().expect("exit");
        if output.status.code().map(i64::from) != Some(exit) {
            problems.push(format!(
                "{case}: exit {:?}, not {exit}: {printed}",
                output.status.code()
            ));
        }
        for code in expect["codes"].as_array().expect("codes") {
            let code = code.as_str().expect("code");
            if !printed.contains(code) {
                problems.push(format!("{case}: no {code}: {printed}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
