//! Publication: readers that glob a product directory see one complete version at every
//! instant, across runs killed at any moment; partitioned layouts; products built before
//! the metadata moved under `_rulec/` are still read.

use crate::support::{read_parquet, scratch, write_parquet};
use arrow::array::{AsArray as _, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const ROWS: i64 = 120_000;

/// The contract of the events the tests write.
const EVENTS_CONTRACT: &str = "table: events\ncolumns:\n  - {name: id, type: int64, nullable: false}\n  - {name: kind, type: utf8, nullable: false}\n  - {name: payload, type: utf8, nullable: false}\n";

/// Events `from..to`: an id, one of four kinds, and some text.
fn events(from: i64, to: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("payload", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(from..to)),
            Arc::new(StringArray::from_iter_values(
                (from..to).map(|i| ["call", "name", "attr", "def"][(i % 4) as usize]),
            )),
            Arc::new(StringArray::from_iter_values((from..to).map(|i| {
                format!("payload of event {i:08} with some text to write")
            }))),
        ],
    )
    .expect("batch")
}

/// A pack with one input of [`ROWS`] events and the rules and settings given.
fn pack(name: &str, rules: &[(&str, &str)], products: &str) -> PathBuf {
    let pack = scratch(name);
    std::fs::create_dir_all(pack.join("data")).expect("data");
    std::fs::create_dir_all(pack.join("contracts")).expect("contracts");
    write_parquet(&pack.join("data/events.parquet"), &events(0, ROWS));
    std::fs::write(pack.join("contracts/events.yaml"), EVENTS_CONTRACT).expect("contract");
    for (rule, sql) in rules {
        std::fs::write(pack.join(format!("{rule}.sql")), sql).expect("rule");
    }
    std::fs::write(
        pack.join("pack.yaml"),
        format!("name: {name}\ninputs:\n  events: data/events.parquet\n{products}"),
    )
    .expect("pack.yaml");
    pack
}

fn run(pack: &Path, args: &[&str]) -> (std::process::Output, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_rulec"))
        .args(["run", pack.to_str().expect("utf8"), "--format", "json"])
        .args(args)
        .output()
        .expect("run rulec");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, report)
}

/// What a reader found in a product directory.
#[derive(Debug)]
enum Read {
    /// One version: its rows and the distinct `built_at` values seen.
    Version {
        rows: usize,
        built_at: BTreeSet<i64>,
    },
    /// A file listed was gone when opened: the product was replaced in between (the reader
    /// retries; it never read a file of the other version).
    Replaced,
    /// Nothing there yet.
    Absent,
}

fn built_at(batch: &RecordBatch, into: &mut BTreeSet<i64>) {
    let index = batch.schema().index_of("built_at").expect("built_at");
    let column = arrow::compute::cast(
        batch.column(index),
        &DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, None),
    )
    .expect("cast");
    let column = column.as_primitive::<arrow::datatypes::TimestampNanosecondType>();
    into.extend((0..column.len()).map(|i| column.value(i)));
}

fn is_not_found(e: &(dyn std::error::Error + 'static)) -> bool {
    let text = e.to_string();
    text.contains("No such file") || text.contains("not found") || text.contains("NotFound")
}

/// `<dir>/*.parquet` as a shell glob lists it (names starting with `.` are not matched),
/// each file read whole with the Parquet reader.
fn read_by_glob(dir: &Path) -> Result<Read, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Absent),
        Err(e) => return Err(e.to_string()),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| !n.starts_with('.') && n.ends_with(".parquet"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Ok(Read::Absent);
    }
    let mut rows = 0;
    let mut seen = BTreeSet::new();
    for file in files {
        let opened = match std::fs::File::open(&file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Replaced),
            Err(e) => return Err(e.to_string()),
        };
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(opened)
            .and_then(|b| b.build())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        for batch in reader {
            let batch = batch.map_err(|e| format!("{}: {e}", file.display()))?;
            rows += batch.num_rows();
            built_at(&batch, &mut seen);
        }
    }
    Ok(Read::Version {
        rows,
        built_at: seen,
    })
}

/// The product directory as the engine's listing table reads it.
fn read_by_listing(runtime: &tokio::runtime::Runtime, dir: &Path) -> Result<Read, String> {
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    use datafusion::prelude::SessionContext;
    if !dir.exists() {
        return Ok(Read::Absent);
    }
    runtime.block_on(async {
        let ctx = SessionContext::new();
        let url =
            ListingTableUrl::parse(format!("{}/", dir.display())).map_err(|e| e.to_string())?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = match ListingTableConfig::new(url)
            .with_listing_options(options)
            .infer_schema(&ctx.state())
            .await
        {
            Ok(config) => config,
            Err(e) if is_not_found(&e) => return Ok(Read::Replaced),
            Err(e) if e.to_string().contains("No files") => return Ok(Read::Absent),
            Err(e) => return Err(e.to_string()),
        };
        let table = ListingTable::try_new(config).map_err(|e| e.to_string())?;
        ctx.register_table("p", Arc::new(table))
            .map_err(|e| e.to_string())?;
        let batches = match ctx.sql("SELECT built_at FROM p").await {
            Ok(df) => df.collect().await,
            Err(e) => Err(e),
        };
        match batches {
            Ok(batches) => {
                let mut seen = BTreeSet::new();
                let mut rows = 0;
                for batch in &batches {
                    rows += batch.num_rows();
                    built_at(batch, &mut seen);
                }
                Ok(Read::Version {
                    rows,
                    built_at: seen,
                })
            }
            Err(e) if is_not_found(&e) => Ok(Read::Replaced),
            Err(e) => Err(e.to_string()),
        }
    })
}

/// Runs killed at random moments while two readers read the product over and over: every
/// read sees one whole version — all its rows, one build time — or finds its files replaced
/// under it; never a partial, doubled or mixed product, never an unreadable file.
#[test]
fn glob_readers_always_see_one_complete_version_across_kills() {
    let pack = pack(
        "publish-kill",
        &[(
            "stamped",
            "SELECT id, kind, payload, now() AS built_at FROM events\n",
        )],
        "products:\n  stamped:\n    max_rows_per_file: 25000\n",
    );
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    let product = pack.join("out/stamped");
    let names: Vec<String> = std::fs::read_dir(&product)
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    // How long a forced run takes, to spread the kills over.
    let started = std::time::Instant::now();
    let (o, _) = run(&pack, &["--force"]);
    assert!(o.status.success());
    let full = started.elapsed();

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        let product = product.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            let mut versions = 0usize;
            let mut replaced = 0usize;
            let mut problems = Vec::new();
            let mut turn = 0usize;
            while !stop.load(Ordering::Relaxed) {
                turn += 1;
                let (how, read) = if turn.is_multiple_of(2) {
                    ("glob", read_by_glob(&product))
                } else {
                    ("listing", read_by_listing(&runtime, &product))
                };
                match read {
                    Ok(Read::Version { rows, built_at }) => {
                        versions += 1;
                        if rows != ROWS as usize || built_at.len() != 1 {
                            problems.push(format!(
                                "{how}: {rows} rows, {} build times",
                                built_at.len()
                            ));
                        }
                    }
                    Ok(Read::Replaced) => replaced += 1,
                    Ok(Read::Absent) => problems.push(format!("{how}: no product")),
                    Err(e) => problems.push(format!("{how}: {e}")),
                }
            }
            (versions, replaced, problems)
        })
    };
    // Kill moments: a pseudo-random spread over a forced run's time (and a little past it,
    // to kill during publication and cleanup). `cargo xtask kills` runs more of them, from
    // a seed of its own (RULEC_KILLS, RULEC_KILL_SEED).
    let mut seed: u64 = std::env::var("RULEC_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let kills: usize = std::env::var("RULEC_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    for _ in 0..kills {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let fraction = (seed >> 11) as f64 / (1u64 << 53) as f64;
        let delay = full.mul_f64(fraction * 1.2);
        let mut child = Command::new(env!("CARGO_BIN_EXE_rulec"))
            .args(["run", pack.to_str().expect("utf8"), "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }
    // And whole runs, so that the readers see versions replaced by finished runs too.
    for _ in 0..3 {
        let (o, _) = run(&pack, &["--force"]);
        assert!(o.status.success());
    }
    stop.store(true, Ordering::Relaxed);
    let (versions, replaced, problems) = reader.join().expect("reader");
    assert!(
        problems.is_empty(),
        "{} problems: {problems:#?}",
        problems.len()
    );
    assert!(
        versions >= 10,
        "{versions} complete reads, {replaced} found their files replaced"
    );
    // The killed runs left nothing behind once a run has finished.
    let staging = pack.join("out/.rulec-staging");
    assert!(!staging.exists(), "{}", staging.display());
}

/// `partition_by` writes a Hive layout without the partition columns in the files, rolls
/// files at `max_rows_per_file`, uses the declared compression, records it all in the
/// manifest, and reads back (for a downstream rule) as the same rows as the whole product.
/// A sorted partitioned product is byte-identical per partition run to run.
#[test]
fn partitioned_products_are_hive_layouts_with_the_declared_files() {
    let pack = pack(
        "publish-partitioned",
        &[
            ("by_kind", "SELECT kind, id, payload FROM events\n"),
            (
                "sorted_by_kind",
                "SELECT id % 3 AS bucket, kind, id FROM events\n",
            ),
            (
                "counted",
                "SELECT kind, count(*) AS n, sum(id) AS ids FROM by_kind GROUP BY kind\n",
            ),
        ],
        "products:\n  by_kind:\n    partition_by: [kind]\n    max_rows_per_file: 10000\n    compression: snappy\n    row_group_bytes: 1MiB\n  sorted_by_kind:\n    partition_by: [bucket, kind]\n    order_by: [id desc]\n    compression: zstd(7)\n",
    );
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    let out = pack.join("out");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("by_kind/_rulec/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(
        manifest["layout"]["partition_by"],
        serde_json::json!(["kind"])
    );
    assert_eq!(manifest["layout"]["max_rows_per_file"], 10000);
    assert_eq!(manifest["layout"]["compression"], "snappy");
    assert_eq!(manifest["layout"]["row_group_bytes"], 1 << 20);
    let files = manifest["files"].as_array().expect("files");
    // 30,000 rows per kind: 3 files each.
    assert_eq!(files.len(), 12, "{files:#?}");
    let mut total = 0;
    for file in files {
        let name = file["name"].as_str().expect("name");
        let kind = name
            .strip_prefix("kind=")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("{name} is not under kind=…/"));
        assert!(["call", "name", "attr", "def"].contains(&kind), "{name}");
        let path = out.join("by_kind").join(name);
        let reader = parquet::file::reader::SerializedFileReader::new(
            std::fs::File::open(&path).expect("open"),
        )
        .expect("parquet");
        use parquet::file::reader::FileReader as _;
        let meta = reader.metadata();
        let columns: Vec<&str> = meta
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name())
            .collect();
        assert_eq!(
            columns,
            ["id", "payload"],
            "{name}: the partition column is in the path"
        );
        assert_eq!(
            meta.row_group(0).column(0).compression(),
            parquet::basic::Compression::SNAPPY
        );
        let rows: i64 = meta.row_groups().iter().map(|g| g.num_rows()).sum();
        assert!(rows <= 10_000, "{name}: {rows} rows");
        assert_eq!(file["rows"].as_i64(), Some(rows));
        total += rows;
    }
    assert_eq!(total, ROWS);
    // Read back by the downstream rule: each kind's rows, from its partition.
    let counted = read_parquet(&crate::support::product_file(&out, "counted"));
    let mut kinds = Vec::new();
    for batch in &counted {
        let kind = arrow::compute::cast(batch.column(0), &DataType::Utf8).expect("cast");
        let kind = kind.as_string::<i32>();
        let n = batch
            .column(1)
            .as_primitive::<arrow::datatypes::Int64Type>();
        for i in 0..batch.num_rows() {
            kinds.push((kind.value(i).to_owned(), n.value(i)));
        }
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("attr".to_owned(), 30_000),
            ("call".to_owned(), 30_000),
            ("def".to_owned(), 30_000),
            ("name".to_owned(), 30_000)
        ]
    );

    // Sorted and partitioned: the same bytes per partition after a forced rebuild.
    let contents = |product: &str| -> Vec<(String, Vec<u8>)> {
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(product).join("_rulec/manifest.json"))
                .expect("manifest"),
        )
        .expect("json");
        let mut files: Vec<(String, Vec<u8>)> = manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| {
                let name = f["name"].as_str().expect("name");
                let partition = name.rsplit_once('/').expect("partitioned").0.to_owned();
                (
                    partition,
                    std::fs::read(out.join(product).join(name)).expect("read"),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = contents("sorted_by_kind");
    assert_eq!(before.len(), 12, "3 buckets x 4 kinds");
    assert!(before[0].0.starts_with("bucket=0/kind="), "{}", before[0].0);
    let (o, report) = run(&pack, &["--force", "--profile", "safe"]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(contents("sorted_by_kind"), before);
    // Sorted within each file, by the declared key.
    let batches = read_parquet(
        &out.join("sorted_by_kind")
            .join(manifest_file_names(&out.join("sorted_by_kind"))[0].clone()),
    );
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column(0).as_primitive::<arrow::datatypes::Int64Type>();
            (0..c.len()).map(|i| c.value(i)).collect::<Vec<_>>()
        })
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "not in `id desc` order"
    );

    // The layout is part of the build id: another compression rebuilds, and says why.
    let yaml = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack.join("pack.yaml"),
        yaml.replace("compression: zstd(7)", "compression: none"),
    )
    .expect("write");
    let (o, report) = run(&pack, &["--profile", "safe"]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(
        status_of(&report, "sorted_by_kind"),
        ("rebuilt", "output settings changed".to_owned())
    );
    assert_eq!(status_of(&report, "by_kind").0, "reused");
}

fn manifest_file_names(product: &Path) -> Vec<String> {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(product.join("_rulec/manifest.json")).expect("manifest"),
    )
    .expect("json");
    manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect()
}

/// A product whose metadata is beside its data (as products were written before `_rulec/`)
/// is still read: with the same build id and whole files, it is reused as it is.
#[test]
fn products_with_metadata_beside_the_data_are_still_read() {
    let pack = pack(
        "publish-legacy",
        &[("kinds", "SELECT kind, id FROM events WHERE id < 1000\n")],
        "",
    );
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    let product = pack.join("out/kinds");
    // Move the metadata to where it was.
    let mut manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(product.join("_rulec/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let plan = manifest["plan"]["name"].as_str().expect("plan").to_owned();
    let flat = plan.trim_start_matches("_rulec/").to_owned();
    std::fs::rename(product.join(&plan), product.join(&flat)).expect("move plan");
    manifest["plan"]["name"] = Value::String(flat);
    std::fs::write(
        product.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).expect("json"),
    )
    .expect("write");
    std::fs::remove_dir_all(product.join("_rulec")).expect("rm");
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(report["products"][0]["status"], "reused", "{report:#}");
    assert!(product.join("manifest.json").exists());
}

/// Events `from..to` as one Parquet file of the `events` directory input.
fn events_file(pack: &Path, name: &str, from: i64, to: i64) {
    write_parquet(&pack.join("data/events").join(name), &events(from, to));
}

/// Every row of a product, formatted and sorted (a multiset).
fn product_rows(product: &Path) -> Vec<String> {
    let batches: Vec<RecordBatch> = manifest_file_names(product)
        .iter()
        .flat_map(|name| read_parquet(&product.join(name)))
        .collect();
    crate::support::sorted_rows(&batches)
}

fn status_of<'a>(report: &'a Value, product: &str) -> (&'a str, String) {
    let entry = report["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["name"] == product)
        .unwrap_or_else(|| panic!("no {product} in {report:#}"));
    (
        entry["status"].as_str().unwrap_or_default(),
        entry["reasons"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
    )
}

/// An `incremental: append` product processes only the files added to its driving input
/// (joined with an input that did not change) and adds them as a part: the same rows as a
/// whole build, the earlier parts untouched. A changed or removed file, a changed joined
/// input or a tolerant run rebuilds it whole, saying why.
#[test]
fn append_incremental_products_process_only_new_files() {
    let pack = scratch("publish-append");
    std::fs::create_dir_all(pack.join("data/events")).expect("data");
    std::fs::create_dir_all(pack.join("contracts")).expect("contracts");
    for (i, name) in ["a.parquet", "b.parquet", "c.parquet"].iter().enumerate() {
        let from = i as i64 * 1000;
        events_file(&pack, name, from, from + 1000);
    }
    let kinds = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("kind", DataType::Utf8, false),
            Field::new("label", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["call", "name", "attr"])),
            Arc::new(StringArray::from(vec!["Call", "Name", "Attribute"])),
        ],
    )
    .expect("kinds");
    write_parquet(&pack.join("data/kinds.parquet"), &kinds);
    std::fs::write(pack.join("contracts/events.yaml"), EVENTS_CONTRACT).expect("contract");
    std::fs::write(
        pack.join("contracts/kinds.yaml"),
        "table: kinds\ncolumns:\n  - {name: kind, type: utf8, nullable: false}\n  - {name: label, type: utf8, nullable: false}\n",
    )
    .expect("contract");
    std::fs::write(
        pack.join("labelled.sql"),
        "SELECT e.id, k.label, upper(e.payload) AS text\nFROM events AS e\nJOIN kinds AS k ON k.kind = e.kind\nWHERE e.id % 3 <> 0\n",
    )
    .expect("rule");
    std::fs::write(
        pack.join("per_label.sql"),
        "SELECT label, count(*) AS n FROM labelled GROUP BY label\n",
    )
    .expect("rule");
    std::fs::write(
        pack.join("pack.yaml"),
        "name: append\ninputs:\n  events: data/events\n  kinds: data/kinds.parquet\nproducts:\n  labelled:\n    incremental: append\n    partition_by: [label]\n",
    )
    .expect("pack.yaml");
    let product = pack.join("out/labelled");
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(status_of(&report, "labelled").0, "rebuilt");
    let first_parts = manifest_file_names(&product);
    let first_bytes: Vec<Vec<u8>> = first_parts
        .iter()
        .map(|f| std::fs::read(product.join(f)).expect("read"))
        .collect();

    // A new file: only it is processed, as a new part in each partition.
    events_file(&pack, "d.parquet", 3000, 4000);
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(
        status_of(&report, "labelled"),
        ("appended", "appended 1 new file of `events`".to_owned()),
        "{report:#}"
    );
    assert_eq!(status_of(&report, "per_label").0, "rebuilt");
    let parts = manifest_file_names(&product);
    assert_eq!(parts.len(), first_parts.len() * 2, "{parts:?}");
    for (name, bytes) in first_parts.iter().zip(&first_bytes) {
        assert_eq!(
            &std::fs::read(product.join(name)).expect("read"),
            bytes,
            "{name}"
        );
    }
    // The same rows as a whole build.
    let appended = product_rows(&product);
    // Of ids 0..4000: a kind with a label (3 in 4) and not a multiple of 3.
    assert_eq!(appended.len(), 2000);
    let whole_out = pack.join("whole");
    let whole_out = whole_out.to_str().expect("utf8");
    let (o, report) = run(&pack, &["--force", "--out", whole_out]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(product_rows(&pack.join("whole/labelled")), appended);
    assert_eq!(
        product_rows(&pack.join("whole/per_label")),
        product_rows(&pack.join("out/per_label"))
    );

    // Nothing new: reused.
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(status_of(&report, "labelled").0, "reused");

    // A changed file, a removed file, a changed joined input, a tolerant run: whole.
    let whole = |report: &Value| {
        let (status, reasons) = status_of(report, "labelled");
        assert_eq!(status, "rebuilt", "{report:#}");
        reasons
    };
    events_file(&pack, "b.parquet", 1000, 1500);
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert!(
        whole(&report).contains("not appended: `b.parquet` of `events` changed"),
        "{report:#}"
    );
    std::fs::remove_file(pack.join("data/events/c.parquet")).expect("rm");
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert!(
        whole(&report).contains("not appended: `c.parquet` of `events` was removed"),
        "{report:#}"
    );
    write_parquet(&pack.join("data/kinds.parquet"), &kinds.slice(0, 2));
    events_file(&pack, "e.parquet", 5000, 5100);
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert!(whole(&report).contains("input kinds changed"), "{report:#}");
    // (The first tolerant run changes the output settings; the second one finds a new file.)
    let (o, report) = run(&pack, &["--tolerant"]);
    assert!(o.status.success(), "{report:#}");
    assert!(
        whole(&report).contains("output settings changed"),
        "{report:#}"
    );
    events_file(&pack, "f.parquet", 6000, 6100);
    let (o, report) = run(&pack, &["--tolerant"]);
    assert!(o.status.success(), "{report:#}");
    assert!(
        whole(&report).contains("not appended: a tolerant run"),
        "{report:#}"
    );
    // And after all that, still the rows of a whole build.
    let (o, _) = run(&pack, &["--force", "--out", whole_out]);
    assert!(o.status.success());
    let (o, _) = run(&pack, &[]);
    assert!(o.status.success());
    assert_eq!(
        product_rows(&product),
        product_rows(&pack.join("whole/labelled"))
    );
}

/// `--jobs` builds independent products side by side and changes nothing: the CPG pack built
/// with 3 jobs has the same rows as with one, its sorted product the same bytes.
#[test]
fn parallel_products_have_the_same_rows_and_bytes() {
    let pack = scratch("publish-jobs");
    crate::support::copy_cpg(&pack);
    let manifest = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack.join("pack.yaml"),
        format!("{manifest}  libcst_nodes:\n    order_by: [file_id, cst_id]\n"),
    )
    .expect("write");
    let outs: Vec<PathBuf> = ["one", "three"].iter().map(|n| pack.join(n)).collect();
    for (out, jobs) in outs.iter().zip(["1", "3"]) {
        let (o, report) = run(
            &pack,
            &["--out", out.to_str().expect("utf8"), "--jobs", jobs],
        );
        assert!(o.status.success(), "{report:#}");
        let statuses: Vec<&str> = report["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| p["status"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(statuses.len(), 9, "{report:#}");
        assert!(statuses.iter().all(|s| *s == "rebuilt"), "{report:#}");
    }
    for entry in std::fs::read_dir(&outs[0]).expect("ls").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        assert_eq!(
            product_rows(&outs[0].join(&name)),
            product_rows(&outs[1].join(&name)),
            "{name}"
        );
    }
    let bytes = |out: &Path| {
        manifest_file_names(&out.join("libcst_nodes"))
            .iter()
            .map(|f| std::fs::read(out.join("libcst_nodes").join(f)).expect("read"))
            .collect::<Vec<_>>()
    };
    assert_eq!(bytes(&outs[0]), bytes(&outs[1]));
}

/// Writes `batch` as a Parquet file that records `sorting_columns` on column 0, ascending.
fn write_sorted_parquet(path: &Path, batch: &RecordBatch) {
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_sorting_columns(Some(vec![parquet::file::metadata::SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .build();
    let file = std::fs::File::create(path).expect("create");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(properties)).expect("w");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}

/// A Hive-partitioned input: partition columns (`partition: true` in the contract) come
/// from the `col=value/` directory names; `.` and `_` names are skipped by reading and by
/// identity alike; a stray file or a value not of the column's type is `R009`, naming it.
/// A contract `order_by` its files do not record is a warning (`R010`), not a failure.
#[test]
fn hive_partitioned_inputs_read_their_partition_columns_from_directories() {
    let pack = scratch("publish-hive");
    std::fs::create_dir_all(pack.join("contracts")).expect("contracts");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, false),
    ]));
    let file = |repo: &str, day: &str, name: &str, from: i64, to: i64, sorted: bool| {
        let dir = pack.join(format!("data/events/repo={repo}/day={day}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(from..to)),
                Arc::new(StringArray::from_iter_values(
                    (from..to).map(|i| format!("e{i}")),
                )),
            ],
        )
        .expect("batch");
        if sorted {
            write_sorted_parquet(&dir.join(name), &batch);
        } else {
            write_parquet(&dir.join(name), &batch);
        }
    };
    file("alpha", "2024-01-01", "part-0.parquet", 0, 100, true);
    file("alpha", "2024-01-02", "part-0.parquet", 100, 150, true);
    file("b%2Fc", "2024-01-01", "part-0.parquet", 150, 160, true);
    // Not data: another writer's temporary and a hidden directory.
    file("alpha", "2024-01-01", "_part-1.parquet", 1000, 2000, true);
    file("alpha", "2024-01-01", ".part-2.parquet", 1000, 2000, true);
    std::fs::create_dir_all(pack.join("data/events/.staging")).expect("dir");
    std::fs::copy(
        pack.join("data/events/repo=alpha/day=2024-01-01/part-0.parquet"),
        pack.join("data/events/.staging/x.parquet"),
    )
    .expect("copy");
    std::fs::write(
        pack.join("contracts/events.yaml"),
        "table: events\ncolumns:\n  - {name: repo, type: utf8, partition: true}\n  - {name: id, type: int64}\n  - {name: day, type: date32, partition: true}\n  - {name: payload, type: utf8}\norder_by: [id]\n",
    )
    .expect("contract");
    std::fs::write(
        pack.join("per_day.sql"),
        "SELECT repo, day, count(*) AS n, min(id) AS first FROM events GROUP BY repo, day\n",
    )
    .expect("rule");
    std::fs::write(
        pack.join("pack.yaml"),
        "name: hive\ninputs:\n  events: data/events\nproducts:\n  per_day: {order_by: [repo, day]}\n",
    )
    .expect("pack.yaml");
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(report["diagnostics"], serde_json::json!([]), "{report:#}");
    let rows = product_rows(&pack.join("out/per_day"));
    assert_eq!(
        rows,
        [
            "alpha|2024-01-01|100|0",
            "alpha|2024-01-02|50|100",
            "b/c|2024-01-01|10|150"
        ]
    );
    // Another hidden file: not data, so nothing changed.
    file("alpha", "2024-01-02", "_SUCCESS.parquet", 0, 5, true);
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    assert_eq!(status_of(&report, "per_day").0, "reused", "{report:#}");
    // A file without the order recorded: read as unordered, with a warning.
    file("alpha", "2024-01-03", "part-0.parquet", 200, 210, false);
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    let warnings = report["diagnostics"].to_string();
    assert!(
        warnings.contains("R010") && warnings.contains("repo=alpha/day=2024-01-03"),
        "{report:#}"
    );
    assert_eq!(product_rows(&pack.join("out/per_day")).len(), 4);
    // A stray file, and a directory whose value is not a date.
    std::fs::copy(
        pack.join("data/events/repo=alpha/day=2024-01-01/part-0.parquet"),
        pack.join("data/events/repo=alpha/stray.parquet"),
    )
    .expect("copy");
    file("alpha", "someday", "part-0.parquet", 0, 1, true);
    let (o, report) = run(&pack, &[]);
    assert_eq!(o.status.code(), Some(1), "{report:#}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("R009")
            && stderr.contains("`repo=alpha/stray.parquet` is not in a `repo=…/day=…/` directory"),
        "{stderr}"
    );
    assert!(
        stderr.contains("directory `day=someday` names `someday`, which is not a `date32`"),
        "{stderr}"
    );
}

/// A NULL in a partition column fails the product (a Hive directory has no NULL), saying
/// which column, and the version published before stays as it was.
#[test]
fn a_null_partition_value_fails_the_product_and_keeps_the_last_version() {
    let pack = pack(
        "publish-null-partition",
        &[(
            "by_bucket",
            "SELECT CASE WHEN id < 100000 THEN id % 4 END AS bucket, id FROM events WHERE id < 200\n",
        )],
        "products:\n  by_bucket:\n    partition_by: [bucket]\n",
    );
    let (o, report) = run(&pack, &[]);
    assert!(o.status.success(), "{report:#}");
    let product = pack.join("out/by_bucket");
    let before = manifest_file_names(&product);
    assert_eq!(before.len(), 4, "{before:?}");
    std::fs::write(
        pack.join("by_bucket.sql"),
        "SELECT CASE WHEN id < 100 THEN id % 4 END AS bucket, id FROM events WHERE id < 200\n",
    )
    .expect("rule");
    let (o, report) = run(&pack, &[]);
    assert_eq!(o.status.code(), Some(1), "{report:#}");
    let error = report["products"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("R004") && error.contains("partition column `bucket` is null"),
        "{report:#}"
    );
    assert_eq!(manifest_file_names(&product), before);
    assert!(!pack.join("out/.rulec-staging").exists());
}
