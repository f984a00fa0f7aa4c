//! Output contracts in `rulec run`: values cast safely to the declared types, and rows that
//! break the contract (a null in a non-null column, a duplicate key) fail the product or,
//! tolerant, go to its errors file.

use crate::run_incremental::{EVENTS, run, shop};
use crate::support::product_file;
use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::process::Command;

#[test]
fn output_contracts_cast_safely_and_refuse_rows_that_break_them() {
    output_contracts_hold("run-output-contracts", &[]);
}

/// The output contracts' casts, refusals and errors files, with `engine` (the arguments that
/// choose where products are computed).
pub(crate) fn output_contracts_hold(scratch: &str, engine: &[&str]) {
    let pack = shop(scratch);
    let run = |pack: &std::path::Path, extra: &[&str]| run(pack, &[engine, extra].concat());
    std::fs::write(
        pack.join("maybe_null.sql"),
        "SELECT CASE WHEN id % 1000 = 0 THEN NULL ELSE id END AS id, CAST(user_id AS INT) AS uid FROM events\n",
    )
    .expect("rule");
    std::fs::write(
        pack.join("contracts/maybe_null.yaml"),
        "table: maybe_null\ncolumns:\n  - {name: id, type: int64, nullable: false}\n  - {name: uid, type: int64}\n",
    )
    .expect("contract");
    std::fs::write(
        pack.join("buckets.sql"),
        "SELECT user_id % 10 AS bucket, kind FROM clean_events\n",
    )
    .expect("rule");
    std::fs::write(
        pack.join("contracts/buckets.yaml"),
        "table: buckets\ncolumns:\n  - {name: bucket, type: int64}\n  - {name: kind, type: utf8}\nkey: [bucket]\n",
    )
    .expect("contract");

    // At check time: the cast is allowed, the nullability is a warning decided on the data.
    let check = Command::new(env!("CARGO_BIN_EXE_rulec"))
        .args(["check", pack.to_str().expect("utf8"), "--format", "json"])
        .output()
        .expect("check");
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    let findings: Vec<(String, String)> = report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .flat_map(|r| r["diagnostics"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["severity"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [("O004".to_owned(), "warning".to_owned())],
        "{report:#}"
    );

    // Strict (the default): both products fail, naming the row; nothing is published.
    let (o, report) = run(&pack, &[]);
    assert_eq!(o.status.code(), Some(1));
    let product = |report: &Value, name: &str| -> Value {
        report["products"]
            .as_array()
            .expect("products")
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .expect("product")
    };
    let error = product(&report, "maybe_null")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.starts_with("O004") && error.contains("row 0") && error.contains("`id` is null"),
        "{error}"
    );
    let error = product(&report, "buckets")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.starts_with("O005") && error.contains("bucket="),
        "{error}"
    );
    assert!(!pack.join("out/maybe_null/_rulec/manifest.json").exists());
    assert_eq!(
        product(&report, "event_counts")["status"],
        "rebuilt",
        "others are built"
    );

    // Tolerant: refused rows go to the product's error file, the rest is the product.
    let (o, report) = run(&pack, &["--tolerant"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let maybe_null = product(&report, "maybe_null");
    assert_eq!(maybe_null["refused_rows"], (EVENTS / 1000) as u64);
    assert_eq!(maybe_null["rows"], (EVENTS - EVENTS / 1000) as u64);
    let buckets = product(&report, "buckets");
    assert_eq!(buckets["rows"], 10, "one row per distinct key");
    let out = pack.join("out");
    let file = ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(product_file(&out, "maybe_null")).expect("open"),
    )
    .expect("parquet");
    let schema = file.schema().clone();
    assert_eq!(
        schema.field_with_name("uid").expect("uid").data_type(),
        &DataType::Int64,
        "cast"
    );
    assert!(!schema.field_with_name("id").expect("id").is_nullable());
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("maybe_null/_rulec/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let errors = out.join("maybe_null").join(
        manifest["errors"]["file"]["name"]
            .as_str()
            .expect("errors file"),
    );
    let refused: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(errors).expect("open"))
            .expect("parquet")
            .build()
            .expect("reader")
            .map(|b| b.expect("batch"))
            .collect();
    let first = &refused[0];
    let column = |name: &str| {
        first
            .column_by_name(name)
            .expect("column")
            .as_any()
            .downcast_ref::<arrow::array::LargeStringArray>()
            .expect("large utf8")
            .value(0)
            .to_owned()
    };
    assert_eq!(
        (column("row"), column("code"), column("stage")),
        (
            "row 0".to_owned(),
            "O004".to_owned(),
            "output-contract".to_owned()
        )
    );

    // The tolerance is part of the build id: a strict run does not reuse a tolerant product.
    let (o, report) = run(&pack, &[]);
    assert_eq!(o.status.code(), Some(1));
    let again = product(&report, "maybe_null");
    assert_eq!(again["status"], "failed", "{report:#}");
    // The failed strict build left the tolerant product published: tolerant again reuses it.
    let (_, report) = run(&pack, &["--tolerant"]);
    assert_eq!(product(&report, "maybe_null")["status"], "reused");
    assert_eq!(product(&report, "buckets")["status"], "reused");
}
