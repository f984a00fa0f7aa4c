//! The `rulec run` fixture corpus: `tests/fixtures/run/<case>/`, each laid over
//! `tests/fixtures/run/_base/` (inputs `t`, a file, and `d`, a directory, with rows the
//! harness writes). Every case's run must end with its `expect.json`'s exit code and print
//! each of its codes; a `setup` names what the harness does first (`hold-lock`: another
//! process's lock on the output directory). A case whose `command` is `replay` is run
//! first, then changed as its `setup` says, then `rulec replay out/<product>` must end so.

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

        if expect["command"].as_str() == Some("replay") {
            let product = expect["product"]
                .as_str()
                .expect("a replay names its product");
            let built = Command::new(env!("CARGO_BIN_EXE_rulec"))
                .arg("run")
                .arg(&pack)
                .arg("--out")
                .arg(&out)
                .output()
                .expect("run rulec");
            assert!(built.status.success(), "{case}: {built:?}");
            let setup = expect["setup"].as_str().expect("a replay case's setup");
            change_before_replay(setup, &pack, &out, product);
            let output = Command::new(env!("CARGO_BIN_EXE_rulec"))
                .arg("replay")
                .arg(out.join(product))
                .arg("--pack")
                .arg(&pack)
                .args(["--format", "json"])
                .output()
                .expect("run rulec replay");
            check_outcome(case, &expect, &output, &mut problems);
            continue;
        }
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
        check_outcome(case, &expect, &output, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether a command ended as `expect.json` says: its exit code, and each code printed.
fn check_outcome(
    case: &str,
    expect: &Value,
    output: &std::process::Output,
    problems: &mut Vec<String>,
) {
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

/// What a replay case changes between the run and the replay of `product`:
/// - `tamper-plan`: a byte of the stored plan file;
/// - `foreign-plan`: the plan file becomes `other`'s (the product `other.sql` of the case
///   builds), with the manifest's record of it made to match;
/// - `stale-input`: input `t`'s data (other rows);
/// - `forge-rows`: the row count the manifest records.
fn change_before_replay(setup: &str, pack: &std::path::Path, out: &std::path::Path, product: &str) {
    let manifest_path = out.join(product).join("_rulec/manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).expect("manifest"))
            .expect("a manifest");
    let plan_path = out
        .join(product)
        .join(manifest["plan"]["name"].as_str().expect("plan"));
    match setup {
        "tamper-plan" => {
            let mut bytes = std::fs::read(&plan_path).expect("plan");
            let last = bytes.len() - 1;
            bytes[last] ^= 0x20;
            std::fs::write(&plan_path, bytes).expect("tamper");
        }
        "foreign-plan" => {
            let other: Value = serde_json::from_str(
                &std::fs::read_to_string(out.join("other/_rulec/manifest.json"))
                    .expect("the other product's manifest"),
            )
            .expect("a manifest");
            let other_plan = out
                .join("other")
                .join(other["plan"]["name"].as_str().expect("plan"));
            std::fs::copy(&other_plan, &plan_path).expect("copy the plan");
            manifest["plan"]["bytes"] = other["plan"]["bytes"].clone();
            manifest["plan"]["sha256"] = other["plan"]["sha256"].clone();
            std::fs::write(&manifest_path, manifest.to_string()).expect("manifest");
        }
        "stale-input" => {
            let mut batch = rows();
            batch = batch.slice(0, 50);
            write_parquet(&pack.join("data/t.parquet"), &batch);
        }
        "forge-rows" => {
            manifest["rows"] = Value::from(manifest["rows"].as_u64().expect("rows") + 1);
            std::fs::write(&manifest_path, manifest.to_string()).expect("manifest");
        }
        other => panic!("unknown replay setup `{other}`"),
    }
}
