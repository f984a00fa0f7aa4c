//! `rulec run` is incremental, deterministic and crash-safe: reuse by build id (column by
//! column through lineage), sorted products byte-identical across runs and partitionings,
//! SIGKILL at twenty moments leaving every published product whole, and one run per output
//! directory.

use crate::support::{copy_tree, product_file, read_parquet, root, rulec, scratch, write_parquet};
use arrow::array::{
    ArrayRef, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder, StructArray,
};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

pub(crate) const EVENTS: usize = 200_000;

/// The `shop` pack of the diff fixtures, with generated data, in a scratch directory.
pub(crate) fn shop(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_tree(&root().join("tests/fixtures/diff/_base"), &dir, &[]);
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    let tags = Arc::new(Field::new("element", DataType::Utf8, true));
    let payload_fields = Fields::from(vec![
        Field::new("size", DataType::Int64, true),
        Field::new("tags", DataType::List(Arc::clone(&tags)), true),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, true),
        Field::new("kind", DataType::Utf8, true),
        Field::new("payload", DataType::Struct(payload_fields.clone()), false),
        Field::new("ts", DataType::Int64, true),
    ]));
    let kinds = ["click", "view", "debug", "buy", "trace"];
    let mut list = ListBuilder::new(StringBuilder::new()).with_field(tags);
    for i in 0..EVENTS {
        list.values().append_value(kinds[i % 3]);
        list.append(true);
    }
    let payload = StructArray::new(
        payload_fields,
        vec![
            Arc::new(Int64Array::from_iter_values(
                (0..EVENTS as i64).map(|i| (i * 7919) % 5000),
            )) as ArrayRef,
            Arc::new(list.finish()) as ArrayRef,
        ],
        None,
    );
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..EVENTS as i64)),
            Arc::new(Int64Array::from_iter_values(
                (0..EVENTS as i64).map(|i| (i * 31) % 997),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..EVENTS).map(|i| kinds[(i * 13) % 5]),
            )),
            Arc::new(payload),
            Arc::new(Int64Array::from_iter_values(
                (0..EVENTS as i64).map(|i| 1_700_000_000 + i),
            )),
        ],
    )
    .expect("events");
    write_parquet(&dir.join("data/events.parquet"), &batch);
    let users = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("country", DataType::Utf8, true),
            Field::new("signup", DataType::Int64, true),
        ])),
        vec![
            Arc::new(Int64Array::from_iter_values(0..997)),
            Arc::new(StringArray::from_iter_values(
                (0..997).map(|i| format!("user{i}")),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..997).map(|i| ["FR", "DE", "JP"][i % 3]),
            )),
            Arc::new(Int64Array::from_iter_values(
                (0..997).map(|i| 1_600_000_000 + i),
            )),
        ],
    )
    .expect("users");
    write_parquet(&dir.join("data/users.parquet"), &users);
    dir
}

pub(crate) fn run(pack: &Path, extra: &[&str]) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_rulec"))
        .args(["run", pack.to_str().expect("utf8"), "--format", "json"])
        .args(extra)
        .output()
        .expect("run rulec");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

/// Product → (status, reasons).
pub(crate) fn statuses(report: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    report["products"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                (
                    p["status"].as_str().unwrap_or_default().to_owned(),
                    p["reasons"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| r.as_str().unwrap_or_default().to_owned())
                        .collect(),
                ),
            )
        })
        .collect()
}

fn rebuilt(report: &Value) -> Vec<String> {
    statuses(report)
        .into_iter()
        .filter(|(_, (s, _))| s == "rebuilt")
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn incremental_runs_rebuild_only_what_changed() {
    let pack = shop("run-incremental");
    let (out, report) = run(&pack, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = statuses(&report);
    assert_eq!(all.len(), 6);
    assert!(
        all.values().all(|(s, r)| s == "rebuilt" && r == &["new"]),
        "{all:?}"
    );

    // Nothing changed: nothing rebuilt.
    let (_, report) = run(&pack, &[]);
    assert!(rebuilt(&report).is_empty(), "{report:#}");

    // A leaf rule edited: only it.
    std::fs::write(
        pack.join("countries.sql"),
        "SELECT DISTINCT country FROM user_names WHERE country <> 'XX'\n",
    )
    .expect("edit");
    let (_, report) = run(&pack, &[]);
    assert_eq!(rebuilt(&report), ["countries"]);
    assert_eq!(statuses(&report)["countries"].1, ["query changed"]);

    // A column added upstream: the rule itself, not its readers (none reads the new column;
    // event_total reads only the number of rows, which did not change).
    std::fs::write(
        pack.join("clean_events.sql"),
        "SELECT id, user_id, kind, payload.size AS size, ts FROM events WHERE kind <> 'debug'\n",
    )
    .expect("edit");
    let (_, report) = run(&pack, &[]);
    assert_eq!(rebuilt(&report), ["clean_events"], "{report:#}");

    // A filter changed upstream: its readers too, with the reason.
    std::fs::write(
        pack.join("clean_events.sql"),
        "SELECT id, user_id, kind, payload.size AS size, ts FROM events WHERE kind NOT IN ('debug', 'trace')\n",
    )
    .expect("edit");
    let (_, report) = run(&pack, &[]);
    assert_eq!(
        rebuilt(&report),
        ["clean_events", "event_counts", "event_sizes", "event_total"]
    );
    assert_eq!(statuses(&report)["event_total"].1, ["clean_events changed"]);

    // An input file touched: the products that read it, directly or through others.
    let users = pack.join("data/users.parquet");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&users)
        .and_then(|f| f.set_modified(later))
        .expect("touch");
    let (_, report) = run(&pack, &[]);
    assert_eq!(rebuilt(&report), ["countries", "event_sizes", "user_names"]);
    assert_eq!(statuses(&report)["user_names"].1, ["input users changed"]);

    // A product's file gone: rebuilt; --force: everything.
    std::fs::remove_file(product_file(&pack.join("out"), "event_counts")).expect("rm");
    let (_, report) = run(&pack, &[]);
    assert_eq!(rebuilt(&report), ["event_counts"]);
    assert_eq!(
        statuses(&report)["event_counts"].1,
        ["files missing or corrupt"]
    );
    let (_, report) = run(&pack, &["--force"]);
    assert_eq!(rebuilt(&report).len(), 6);

    // A different profile changes every build id.
    let (_, report) = run(&pack, &["--profile", "safe"]);
    assert_eq!(rebuilt(&report).len(), 6);
    // (Upstream products' columns changed with it: the profile is named first.)
    assert!(
        statuses(&report)
            .values()
            .all(|(_, r)| r.first().map(String::as_str) == Some("profile changed")),
        "{report:#}"
    );
}

fn order_products(pack: &Path) {
    let manifest = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack.join("pack.yaml"),
        format!("{manifest}products:\n  clean_events:\n    order_by: [id]\n  event_sizes:\n    order_by: [total desc, user_id]\n"),
    )
    .expect("write");
}

#[test]
fn sorted_products_are_byte_identical_across_runs_and_partitions() {
    let pack = shop("run-deterministic");
    order_products(&pack);
    let out = pack.join("out");
    let mut seen: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
    for partitions in ["1", "2", "8"] {
        for _ in 0..3 {
            let setting = format!("datafusion.execution.target_partitions={partitions}");
            let (o, _) = run(&pack, &["--force", "--set", &setting]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            for product in ["clean_events", "event_sizes"] {
                seen.entry(product)
                    .or_default()
                    .push(std::fs::read(product_file(&out, product)).expect("read"));
            }
        }
    }
    for (product, versions) in &seen {
        assert_eq!(versions.len(), 9);
        assert!(
            versions.windows(2).all(|w| w[0] == w[1]),
            "{product} differs between runs"
        );
    }
    // The order is in the Parquet metadata and in the manifest; unsorted products say so.
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(product_file(&out, "event_sizes")).expect("open"),
    )
    .expect("parquet");
    let sorting = reader
        .metadata()
        .row_group(0)
        .sorting_columns()
        .cloned()
        .expect("sorting columns");
    assert_eq!(sorting.len(), 2);
    assert!(sorting[0].descending && !sorting[1].descending);
    let manifest = |p: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.join(p).join("_rulec/manifest.json")).expect("m"),
        )
        .expect("json")
    };
    assert_eq!(
        manifest("event_sizes")["order"]["by"],
        serde_json::json!(["total desc", "user_id"])
    );
    assert_eq!(manifest("event_sizes")["order"]["tier"], "sorted");
    assert_eq!(manifest("event_counts")["order"]["tier"], "none");
    assert_eq!(
        manifest("event_counts")["settings"]["datafusion.execution.target_partitions"],
        "8"
    );
    // An order that cannot be: an error naming it, not a product.
    let text = std::fs::read_to_string(pack.join("pack.yaml")).expect("read");
    std::fs::write(pack.join("pack.yaml"), text.replace("[id]", "[payload]")).expect("write");
    let (o, report) = run(&pack, &["--force"]);
    assert_eq!(o.status.code(), Some(1));
    let error = report["products"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.starts_with("R007") && error.contains("payload"),
        "{report:#}"
    );
}

/// Every product with a manifest has whole files (each named file's size and SHA-256, the
/// data files' rows: [`crate::support::assert_files_whole`]). Returns how many products.
fn published_products_are_whole(out: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(out) else {
        return 0;
    };
    let mut whole = 0;
    for entry in entries.flatten() {
        if entry.path().join("_rulec/manifest.json").exists() {
            crate::support::assert_files_whole(&entry.path());
            whole += 1;
        }
    }
    whole
}

/// What a kill left in the output's staging: versions with data files (a product was being
/// written), and data files without a Parquet footer (a file was being written).
fn interrupted_writes(out: &Path) -> (usize, usize) {
    let (mut versions, mut open_files) = (0, 0);
    let staging = std::fs::read_dir(out.join(".rulec-staging"))
        .into_iter()
        .flatten();
    for version in staging.flatten() {
        let files: Vec<PathBuf> = std::fs::read_dir(version.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| f.path())
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .collect();
        if !files.is_empty() {
            versions += 1;
        }
        open_files += files
            .iter()
            .filter(|f| !std::fs::read(f).is_ok_and(|b| b.ends_with(b"PAR1")))
            .count();
    }
    (versions, open_files)
}

#[test]
fn a_killed_run_leaves_every_published_product_whole() {
    let pack = shop("run-sigkill");
    let out = pack.join("out");
    let started = std::time::Instant::now();
    let (o, _) = run(&pack, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full = started.elapsed();
    assert_eq!(published_products_are_whole(&out), 6);
    // Kills that landed while a product's version was being written, and while one of its
    // files was (no footer yet).
    let (mut mid_product, mut mid_file) = (0, 0);
    for moment in 0..20u32 {
        // Kill moments spread over a whole forced run.
        let delay = full.mul_f64(f64::from(moment) / 19.0);
        let mut child = Command::new(env!("CARGO_BIN_EXE_rulec"))
            .args(["run", pack.to_str().expect("utf8"), "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (versions, open_files) = interrupted_writes(&out);
        mid_product += usize::from(versions > 0);
        mid_file += usize::from(open_files > 0);
        assert_eq!(
            published_products_are_whole(&out),
            6,
            "after a kill at {delay:?}"
        );
    }
    assert!(
        mid_product > 0 && mid_file > 0,
        "of 20 kills, {mid_product} landed while a product was written and {mid_file} while a file was"
    );
    let (o, report) = run(&pack, &[]);
    assert!(
        o.status.success(),
        "the run after the kills: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(statuses(&report).len(), 6);
    assert_eq!(published_products_are_whole(&out), 6);
    // No leftovers: each product directory holds its data file and `_rulec/` (its manifest
    // and plan), and nothing is left in staging.
    let mut products = 0;
    for entry in std::fs::read_dir(&out).expect("ls").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".rulec-staging"), "{name} left behind");
        if entry.file_type().expect("type").is_dir() {
            products += 1;
            let mut names: Vec<String> = std::fs::read_dir(entry.path())
                .expect("ls")
                .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names.len(), 2, "{}: {names:?}", entry.path().display());
            assert!(
                names[0] == "_rulec" && names[1].ends_with(".parquet"),
                "{names:?}"
            );
            assert_eq!(
                std::fs::read_dir(entry.path().join("_rulec"))
                    .expect("ls")
                    .count(),
                2
            );
        }
    }
    assert_eq!(products, 6);
}

#[test]
fn one_run_at_a_time_per_output_directory() {
    let pack = shop("run-lock");
    let out = pack.join("out");
    std::fs::create_dir_all(&out).expect("out");
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.join(".rulec.lock"))
        .expect("lock file");
    lock.lock().expect("hold the lock");
    let (o, _) = run(&pack, &["--no-wait"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("R006") && stderr.contains("another rulec run"),
        "{stderr}"
    );
    assert_eq!(published_products_are_whole(&out), 0, "nothing written");
    drop(lock);
    let (o, _) = run(&pack, &["--no-wait"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn glob_characters_in_paths_are_plain_characters() {
    let pack = shop("run-glob [x]*");
    let out = pack.join("out [1]?");
    let (o, report) = run(&pack, &["--out", out.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Downstream products read their upstream back from those paths: not empty.
    let total = report["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["name"] == "event_total")
        .expect("event_total")
        .clone();
    assert_eq!(total["rows"], 1);
    let file = ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(product_file(&out, "event_total")).expect("open"),
    )
    .expect("parquet")
    .build()
    .expect("reader")
    .next()
    .expect("a batch")
    .expect("batch");
    let n = file
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("count")
        .value(0);
    assert!(n > 0, "clean_events read back empty");
}

/// A declared order over a UNION ALL whose branches build a struct from the sort key: a
/// shape on which DataFusion 55.2's own sort pushdown makes a plan its sanity check refuses.
/// The product is built, sorted.
#[test]
fn a_declared_order_sorts_a_union_that_builds_structs_from_the_key() {
    let pack = shop("run-sorted-union");
    std::fs::write(
        pack.join("event_refs.sql"),
        "SELECT named_struct('user_id', user_id, 'id', id) AS ref, user_id, kind\n\
         FROM clean_events\n\
         UNION ALL\n\
         SELECT named_struct('user_id', user_id, 'id', 0) AS ref, user_id, 'signup' AS kind\n\
         FROM user_names\n",
    )
    .expect("write rule");
    let manifest = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack.join("pack.yaml"),
        format!("{manifest}products:\n  event_refs:\n    order_by: [user_id]\n"),
    )
    .expect("write");
    let (o, report) = run(
        &pack,
        &["--set", "datafusion.execution.target_partitions=2"],
    );
    assert!(
        o.status.success(),
        "{}\n{report:#}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = pack.join("out");
    let rows = |product: &str| -> u64 {
        let text =
            std::fs::read_to_string(out.join(product).join("_rulec/manifest.json")).expect("m");
        serde_json::from_str::<Value>(&text).expect("json")["rows"]
            .as_u64()
            .expect("rows")
    };
    let mut user_ids = Vec::new();
    for batch in read_parquet(&product_file(&out, "event_refs")) {
        let column = batch
            .column_by_name("user_id")
            .expect("user_id")
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("int64");
        user_ids.extend(column.iter());
    }
    assert_eq!(
        user_ids.len() as u64,
        rows("clean_events") + rows("user_names")
    );
    assert!(user_ids.len() > 1000);
    // Ascending, nulls last: `Option`'s order puts None first, so compare by (is_none, value).
    let key = |v: &Option<i64>| (v.is_none(), *v);
    assert!(
        user_ids.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
        "event_refs is not sorted by user_id"
    );
}

/// A product declared `slice_by` is built in slices and holds the same rows as the same
/// rule built whole; the manifest says how it was sliced; a rule whose rows depend on
/// other keys' rows is refused before anything is written.
#[test]
fn a_sliced_product_holds_the_rows_of_the_whole_one() {
    let pack = shop("run-sliced");
    let rule = "SELECT u.user_id, u.name, e.kinds, e.n\n\
                FROM user_names AS u\n\
                LEFT JOIN (\n\
                  SELECT user_id, array_sort(array_agg(kind)) AS kinds, count(*) AS n\n\
                  FROM clean_events GROUP BY user_id\n\
                ) AS e ON e.user_id = u.user_id\n";
    std::fs::write(pack.join("user_kinds_whole.sql"), rule).expect("write rule");
    std::fs::write(pack.join("user_kinds_sliced.sql"), rule).expect("write rule");
    let manifest = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack.join("pack.yaml"),
        format!(
            "{manifest}products:\n  user_kinds_sliced:\n    slice_by: user_id\n    slices: 5\n"
        ),
    )
    .expect("write");
    let (o, report) = run(&pack, &[]);
    assert!(
        o.status.success(),
        "{}\n{report:#}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = pack.join("out");
    let rows = |product: &str| -> Vec<String> {
        crate::support::sorted_rows(&read_parquet(&product_file(&out, product)))
    };
    let whole = rows("user_kinds_whole");
    assert_eq!(whole.len(), 997);
    assert!(
        whole.iter().any(|r| r.contains("[buy, ")),
        "{:?}",
        &whole[..3]
    );
    assert_eq!(rows("user_kinds_sliced"), whole);
    let sliced: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("user_kinds_sliced/_rulec/manifest.json")).expect("m"),
    )
    .expect("json");
    assert_eq!(
        sliced["slices"],
        serde_json::json!({"by": "user_id", "count": 5})
    );
    let whole_manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("user_kinds_whole/_rulec/manifest.json")).expect("m"),
    )
    .expect("json");
    assert!(whole_manifest.get("slices").is_none());
    // The passes ran with Parquet filter pushdown, and the manifest says so.
    let pushdown =
        |m: &Value| m["settings"]["datafusion.execution.parquet.pushdown_filters"].clone();
    assert_eq!(pushdown(&sliced), "true");
    assert_eq!(pushdown(&whole_manifest), "false");

    // Counting every user's events in one row is not per user: refused, nothing written.
    std::fs::write(
        pack.join("user_kinds_sliced.sql"),
        "SELECT max(user_id) AS user_id, count(*) AS n FROM clean_events\n",
    )
    .expect("write rule");
    let before = std::fs::read(product_file(&out, "user_kinds_sliced")).expect("read");
    let (o, report) = run(&pack, &[]);
    assert_eq!(o.status.code(), Some(1), "{report:#}");
    let product = report["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["name"] == "user_kinds_sliced")
        .expect("the product");
    let error = product["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("R007") && error.contains("does not group by `user_id`"),
        "{report:#}"
    );
    assert_eq!(
        std::fs::read(product_file(&out, "user_kinds_sliced")).expect("read"),
        before
    );
    // `rulec check` finds it without running anything, at the product's entry in pack.yaml.
    let check = rulec(&["check", pack.to_str().expect("utf8")]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    // At the `slice_by:` line of the product's entry.
    let line = manifest.lines().count() + 3;
    assert!(
        stdout.contains("error[R007 invalid-run-setting]: product `user_kinds_sliced` cannot be built in slices of `user_id`: an aggregate does not group by `user_id`")
            && stdout.contains(&format!("pack.yaml:{line}:5")),
        "{stdout}"
    );
}

#[test]
fn products_calling_volatile_functions_and_their_readers_are_rebuilt_every_run() {
    let pack = shop("run-volatile");
    std::fs::write(
        pack.join("sampled_events.sql"),
        "SELECT id, kind, now() AS sampled_at FROM clean_events WHERE random() <= 1.0\n",
    )
    .expect("write rule");
    std::fs::write(
        pack.join("sampled_kinds.sql"),
        "SELECT kind, count(*) AS n FROM sampled_events GROUP BY kind\n",
    )
    .expect("write rule");
    let (out, _) = run(&pack, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (out, report) = run(&pack, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let statuses = statuses(&report);
    assert_eq!(
        statuses["sampled_events"],
        ("rebuilt".to_owned(), vec!["volatile".to_owned()])
    );
    assert_eq!(
        statuses["sampled_kinds"],
        (
            "rebuilt".to_owned(),
            vec!["reads volatile `sampled_events`".to_owned()]
        )
    );
    // Nothing else changed, so nothing else is rebuilt.
    assert_eq!(rebuilt(&report), ["sampled_events", "sampled_kinds"]);
    // `rulec check` warns, at the first volatile call.
    let check = Command::new(env!("CARGO_BIN_EXE_rulec"))
        .args(["check", "--no-cache", pack.to_str().expect("utf8")])
        .output()
        .expect("check");
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning[Q101 volatile-function]: `now()`, `random()` return different values on every run"),
        "{stdout}"
    );
}

#[test]
fn an_ephemeral_rule_is_never_written_and_its_readers_get_the_same_rows() {
    let written = shop("run-ephemeral-table");
    let (out, _) = run(&written, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pack = shop("run-ephemeral");
    let manifest = pack.join("pack.yaml");
    let text = std::fs::read_to_string(&manifest).expect("pack.yaml");
    std::fs::write(
        &manifest,
        format!("{text}products:\n  clean_events: {{materialize: ephemeral}}\n"),
    )
    .expect("write pack.yaml");
    let (out, report) = run(&pack, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let statuses = statuses(&report);
    assert_eq!(statuses["clean_events"].0, "ephemeral");
    assert!(
        !pack.join("out/clean_events").exists(),
        "an ephemeral product is not written"
    );
    // Its readers hold the rows they hold when it is written.
    for reader in ["event_counts", "event_sizes", "event_total"] {
        assert_eq!(statuses[reader].0, "rebuilt", "{reader}");
        let rows = |dir: &Path| {
            let mut rows: Vec<String> = read_parquet(&product_file(&dir.join("out"), reader))
                .iter()
                .flat_map(|batch| {
                    let batch = batch.clone();
                    (0..batch.num_rows()).map(move |i| {
                        batch
                            .columns()
                            .iter()
                            .map(|c| {
                                arrow::util::display::array_value_to_string(c, i)
                                    .unwrap_or_default()
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                })
                .collect();
            rows.sort();
            rows
        };
        assert_eq!(rows(&pack), rows(&written), "{reader}");
    }
    // A second run reuses the readers: the view's identity is in their build ids.
    let (out, report) = run(&pack, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rebuilt(&report).is_empty(), "{report}");

    // What an ephemeral product cannot declare, and an unknown materialization, are refused
    // by check, at the product's entry.
    for (setting, expected) in [
        (
            "{materialize: ephemeral, order_by: [id]}",
            "declares `order_by`",
        ),
        (
            "{materialize: view}",
            "`materialize: view` is not `table` or `ephemeral`",
        ),
    ] {
        std::fs::write(
            &manifest,
            format!("{text}products:\n  clean_events: {setting}\n"),
        )
        .expect("write pack.yaml");
        let check = Command::new(env!("CARGO_BIN_EXE_rulec"))
            .args(["check", "--no-cache", pack.to_str().expect("utf8")])
            .output()
            .expect("check");
        let stdout = String::from_utf8_lossy(&check.stdout);
        assert_eq!(check.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("error[R007 invalid-run-setting]"),
            "{stdout}"
        );
        assert!(stdout.contains(expected), "{stdout}");
        assert!(stdout.contains("pack.yaml:6:3"), "{stdout}");
    }
}
