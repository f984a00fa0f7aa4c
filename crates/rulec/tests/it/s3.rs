//! Inputs and products on S3 (the `s3` feature), against an S3-compatible server on
//! loopback that `cargo xtask s3` starts (moto, from PyPI in a venv) with a bucket, and
//! whose address it passes in the environment (`AWS_ENDPOINT_URL`, …,
//! `RULEC_TEST_S3_BUCKET`). Ignored without it: `cargo xtask s3` runs them.

use crate::support::{read_parquet, rulec, scratch, sorted_rows};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use futures::TryStreamExt as _;
use rulec_exec::location::{Location, ObjectLocation};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// A fresh prefix in the lane's bucket, and a client of it.
struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectLocation,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    fn new(test: &str) -> Bucket {
        let bucket = std::env::var("RULEC_TEST_S3_BUCKET")
            .expect("RULEC_TEST_S3_BUCKET: run these tests with `cargo xtask s3`");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let Ok(Location::Object(prefix)) =
            Location::parse(&format!("s3://{bucket}/{test}-{nanos:x}"))
        else {
            panic!("an s3 URL");
        };
        let store = prefix.open().expect("the S3 client");
        Bucket {
            store,
            prefix,
            runtime: tokio::runtime::Runtime::new().expect("runtime"),
        }
    }

    fn url(&self, name: &str) -> String {
        self.prefix.join(name).to_string()
    }

    /// Uploads every file below `dir` to `name/` (their relative paths kept).
    fn upload_dir(&self, dir: &Path, name: &str) {
        for entry in walk(dir) {
            let relative = entry.strip_prefix(dir).expect("below");
            let key = self
                .prefix
                .join(name)
                .join(&relative.to_string_lossy().replace('\\', "/"));
            self.put(&key.path(), std::fs::read(&entry).expect("read"));
        }
    }

    fn put(&self, path: &ObjectPath, bytes: Vec<u8>) {
        self.runtime
            .block_on(self.store.put(path, PutPayload::from(bytes)))
            .expect("put");
    }

    fn get(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.prefix.join(name).path();
        self.runtime.block_on(async {
            Some(
                self.store
                    .get(&path)
                    .await
                    .ok()?
                    .bytes()
                    .await
                    .ok()?
                    .to_vec(),
            )
        })
    }

    fn delete(&self, name: &str) {
        self.runtime
            .block_on(self.store.delete(&self.prefix.join(name).path()))
            .expect("delete");
    }

    /// The keys below `name/`, relative to it, sorted.
    fn keys(&self, name: &str) -> Vec<String> {
        let below = self.prefix.join(name);
        let mut keys: Vec<String> = self.runtime.block_on(async {
            self.store
                .list(Some(&below.path()))
                .map_ok(|meta| below.relative(&meta.location))
                .try_collect()
                .await
                .expect("list")
        });
        keys.sort();
        keys
    }

    fn manifest(&self, out: &str, product: &str) -> serde_json::Value {
        let bytes = self
            .get(&format!("{out}/{product}/_rulec/manifest.json"))
            .unwrap_or_else(|| panic!("no manifest of {product}"));
        serde_json::from_slice(&bytes).expect("manifest json")
    }

    /// A product's rows, sorted, from the files its manifest on S3 names.
    fn product_rows(&self, out: &str, product: &str, scratch: &Path) -> Vec<String> {
        let manifest = self.manifest(out, product);
        let mut batches = Vec::new();
        for (i, file) in manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .enumerate()
        {
            let name = file["name"].as_str().expect("name");
            let bytes = self
                .get(&format!("{out}/{product}/{name}"))
                .unwrap_or_else(|| panic!("{product}: no {name}"));
            let local = scratch.join(format!("{product}-{i}.parquet"));
            std::fs::write(&local, bytes).expect("write");
            batches.extend(read_parquet(&local));
        }
        sorted_rows(&batches)
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `rulec run PACK --out OUT --format json ARGS…`: its exit code and report.
fn run(pack: &Path, out: &str, extra: &[&str]) -> (bool, serde_json::Value, String) {
    let mut args = vec![
        "run",
        pack.to_str().expect("utf-8"),
        "--out",
        out,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = rulec(&args);
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (
        output.status.success(),
        report,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn statuses(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The CPG pack in `work/cpg` (with [`crate::support::CPG_LAYOUTS`]), its inputs uploaded to `data/` of the bucket's prefix and
/// pack.yaml naming them there.
fn cpg_pack_reading_s3(work: &Path, bucket: &Bucket) -> (std::path::PathBuf, rulec_pack::Pack) {
    let pack_dir = work.join("cpg");
    crate::support::copy_cpg_with_layouts(&pack_dir);
    bucket.upload_dir(&pack_dir.join("data"), "data");
    std::fs::remove_dir_all(pack_dir.join("data")).expect("the local data, gone");
    let manifest = std::fs::read_to_string(pack_dir.join("pack.yaml")).expect("pack.yaml");
    let manifest = manifest.replace(": data/", &format!(": {}/", bucket.url("data")));
    std::fs::write(pack_dir.join("pack.yaml"), manifest).expect("pack.yaml");
    let (pack, _) = crate::support::compile(&pack_dir);
    (pack_dir, pack)
}

/// The CPG pack's products as a local run of the local data builds them, rows sorted, and
/// each product's data files' SHA-256s.
fn local_products(
    work: &Path,
    pack: &rulec_pack::Pack,
) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let pack_dir = work.join("cpg-local");
    crate::support::copy_cpg_with_layouts(&pack_dir);
    let out = work.join("local-out");
    let (ok, _, stderr) = run(&pack_dir, out.to_str().expect("utf-8"), &[]);
    assert!(ok, "{stderr}");
    pack.rules
        .iter()
        .map(|rule| {
            let dir = out.join(&rule.name);
            let manifest: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("_rulec/manifest.json")).expect("manifest"),
            )
            .expect("json");
            let mut batches = Vec::new();
            for file in manifest["files"].as_array().expect("files") {
                batches.extend(read_parquet(
                    &dir.join(file["name"].as_str().expect("name")),
                ));
            }
            (
                rule.name.clone(),
                (sorted_rows(&batches), hashes(&manifest)),
            )
        })
        .collect()
}

/// The keys below a product that its manifest names (and the manifest), sorted.
fn named_keys(manifest: &serde_json::Value) -> Vec<String> {
    let mut named: Vec<String> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .chain([&manifest["plan"]])
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .chain(["_rulec/manifest.json".to_owned()])
        .collect();
    named.sort();
    named
}

fn hashes(manifest: &serde_json::Value) -> Vec<String> {
    manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["sha256"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Inputs read from S3 and products written there equal the local run's (the files of
/// sorted products byte for byte), are reused from S3 by the next run, and a forced rebuild
/// leaves below each product exactly what its new manifest names.
#[test]
#[ignore = "needs an S3 server: cargo xtask s3"]
fn the_cpg_pack_on_s3_gives_the_local_products() {
    let work = scratch("s3-cpg");
    let bucket = Bucket::new("cpg");
    let (pack_dir, pack) = cpg_pack_reading_s3(&work, &bucket);
    let expected = local_products(&work, &pack);
    let out = bucket.url("out");

    let (ok, report, stderr) = run(&pack_dir, &out, &[]);
    assert!(ok, "{stderr}\n{report}");
    assert!(
        statuses(&report).values().all(|s| s == "rebuilt"),
        "{report}"
    );
    assert_eq!(report["out"], out.as_str());
    let mut sorted = 0;
    for rule in &pack.rules {
        let (rows, local_hashes) = &expected[&rule.name];
        assert!(!rows.is_empty(), "{}", rule.name);
        assert_eq!(
            &bucket.product_rows("out", &rule.name, &work),
            rows,
            "{}",
            rule.name
        );
        let manifest = bucket.manifest("out", &rule.name);
        if manifest["order"]["tier"] == "sorted" {
            sorted += 1;
            assert_eq!(&hashes(&manifest), local_hashes, "{}", rule.name);
        }
    }
    assert_eq!(sorted, 2, "cpg_edges and symtable_symbols are sorted");
    // Nothing is left locally: staging is in the temporary directory, and removed.
    assert!(!pack_dir.join("out").exists());

    // The next run reuses every product from S3, checking sizes, or with --verify hashes.
    for extra in [&[][..], &["--verify"][..]] {
        let (ok, again, stderr) = run(&pack_dir, &out, extra);
        assert!(ok, "{stderr}");
        assert!(statuses(&again).values().all(|s| s == "reused"), "{again}");
    }

    // A forced rebuild publishes new files and deletes the old version's.
    let before = bucket.keys("out/cpg_nodes");
    let (ok, _, stderr) = run(&pack_dir, &out, &["--force"]);
    assert!(ok, "{stderr}");
    let manifest = bucket.manifest("out", "cpg_nodes");
    let after = bucket.keys("out/cpg_nodes");
    assert_eq!(after, named_keys(&manifest));
    assert!(
        before
            .iter()
            .filter(|k| k.ends_with(".parquet"))
            .all(|k| !after.contains(k)),
        "new names: {before:?} {after:?}"
    );

    // A damaged file is found and the product rebuilt.
    let first = manifest["files"][0]["name"].as_str().expect("name");
    bucket.put(
        &bucket.prefix.join(&format!("out/cpg_nodes/{first}")).path(),
        b"not parquet".to_vec(),
    );
    let (ok, report, stderr) = run(&pack_dir, &out, &["--only", "cpg_nodes"]);
    assert!(ok, "{stderr}");
    assert_eq!(statuses(&report)["cpg_nodes"], "rebuilt", "{report}");
    assert_eq!(
        bucket.product_rows("out", "cpg_nodes", &work),
        expected["cpg_nodes"].0
    );
}

/// A product that fails leaves its published version on S3 as it was, and nothing else
/// below it; a held lock stops a second run; a missing input is named.
#[test]
#[ignore = "needs an S3 server: cargo xtask s3"]
fn failures_on_s3_leave_the_published_version() {
    let work = scratch("s3-failures");
    let bucket = Bucket::new("failures");
    let (pack_dir, _) = cpg_pack_reading_s3(&work, &bucket);
    let out = bucket.url("out");
    let (ok, _, stderr) = run(&pack_dir, &out, &["--only", "cpg_nodes"]);
    assert!(ok, "{stderr}");
    let published = bucket.keys("out/cpg_nodes");
    let manifest = bucket.get("out/cpg_nodes/_rulec/manifest.json");

    // The rule now fails while it runs (a cast no row survives).
    let rule = pack_dir.join("cpg_nodes.sql");
    let text = std::fs::read_to_string(&rule).expect("rule");
    let broken = text.replacen(
        "  path,\n",
        "  concat(path, CAST(CAST('x' || path AS BIGINT) AS VARCHAR)) AS path,\n",
        1,
    );
    assert_ne!(broken, text);
    std::fs::write(&rule, broken).expect("rule");
    let (ok, report, _) = run(&pack_dir, &out, &["--only", "cpg_nodes"]);
    assert!(!ok);
    assert_eq!(statuses(&report)["cpg_nodes"], "failed", "{report}");
    assert_eq!(bucket.keys("out/cpg_nodes"), published);
    assert_eq!(bucket.get("out/cpg_nodes/_rulec/manifest.json"), manifest);
    std::fs::write(&rule, text).expect("rule");

    // What a killed run uploaded and never published goes when the product is next reused.
    let orphan = bucket.prefix.join("out/cpg_nodes/part-orphan-0.parquet");
    bucket.put(
        &orphan.path(),
        bucket
            .get(&format!(
                "out/cpg_nodes/{}",
                published
                    .iter()
                    .find(|k| k.ends_with(".parquet"))
                    .expect("a data file")
            ))
            .expect("a file"),
    );
    let (ok, report, stderr) = run(&pack_dir, &out, &["--only", "cpg_nodes"]);
    assert!(ok, "{stderr}");
    assert_eq!(statuses(&report)["cpg_nodes"], "reused", "{report}");
    assert_eq!(bucket.keys("out/cpg_nodes"), published);

    // Another run's lock: this one stops, names it, and writes nothing.
    bucket.put(
        &bucket.prefix.join("out/.rulec.lock").path(),
        b"{\"host\": \"elsewhere\", \"pid\": 1}".to_vec(),
    );
    let (ok, _, stderr) = run(&pack_dir, &out, &["--force"]);
    assert!(!ok);
    assert!(
        stderr.contains("R006") && stderr.contains("elsewhere"),
        "{stderr}"
    );
    assert_eq!(bucket.keys("out/cpg_nodes"), published);
    bucket.delete("out/.rulec.lock");
    let (ok, _, stderr) = run(&pack_dir, &out, &["--only", "cpg_nodes"]);
    assert!(ok, "{stderr}");
    // The run released its own lock.
    assert_eq!(bucket.get("out/.rulec.lock"), None);

    // An input that is not there.
    let yaml = std::fs::read_to_string(pack_dir.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack_dir.join("pack.yaml"),
        yaml.replace("data/scip_symbols.parquet", "data/nowhere.parquet"),
    )
    .expect("pack.yaml");
    let (ok, _, stderr) = run(&pack_dir, &out, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("R001") && stderr.contains("nowhere.parquet"),
        "{stderr}"
    );
}

/// Executors of an in-process Ballista cluster read the inputs from S3 and write the
/// products there; the products equal the local run's (sorted ones byte for byte), and below
/// each is exactly what its manifest names.
#[cfg(feature = "ballista")]
#[test]
#[ignore = "needs an S3 server: cargo xtask s3"]
fn a_standalone_cluster_reads_s3() {
    let work = scratch("s3-ballista");
    let bucket = Bucket::new("ballista");
    let (pack_dir, pack) = cpg_pack_reading_s3(&work, &bucket);
    let expected = local_products(&work, &pack);
    let out = bucket.url("out");
    let (ok, report, stderr) = run(
        &pack_dir,
        &out,
        &["--engine", "ballista", "--scheduler", "standalone"],
    );
    assert!(ok, "{stderr}\n{report}");
    let mut sorted = 0;
    for rule in &pack.rules {
        let (rows, local_hashes) = &expected[&rule.name];
        assert_eq!(
            &bucket.product_rows("out", &rule.name, &work),
            rows,
            "{}",
            rule.name
        );
        let manifest = bucket.manifest("out", &rule.name);
        if manifest["order"]["tier"] == "sorted" {
            sorted += 1;
            assert_eq!(&hashes(&manifest), local_hashes, "{}", rule.name);
        }
        assert_eq!(
            bucket.keys(&format!("out/{}", rule.name)),
            named_keys(&manifest)
        );
        // Written by the executors: `part-<version nonce>-<attempt nonce>-<n>.parquet`.
        for file in manifest["files"].as_array().expect("files") {
            let name = file["name"].as_str().expect("name");
            let name = name.rsplit('/').next().unwrap_or(name);
            assert_eq!(name.matches('-').count(), 7, "{name}");
        }
    }
    assert_eq!(sorted, 2, "cpg_edges and symtable_symbols are sorted");
}

/// A product's rows by the directory of each file (partition values live in the
/// directory names): `(directory, sorted rows)`, sorted. `read` gives a file's bytes by its
/// name in the manifest.
fn rows_by_directory(
    manifest: &serde_json::Value,
    scratch: &Path,
    read: impl Fn(&str) -> Vec<u8>,
) -> Vec<(String, Vec<String>)> {
    let mut by_directory: BTreeMap<String, Vec<arrow::array::RecordBatch>> = BTreeMap::new();
    for (i, file) in manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .enumerate()
    {
        let name = file["name"].as_str().expect("name");
        let local = scratch.join(format!("file-{i}.parquet"));
        std::fs::write(&local, read(name)).expect("write");
        let directory = name.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        by_directory
            .entry(directory)
            .or_default()
            .extend(read_parquet(&local));
    }
    by_directory
        .into_iter()
        .map(|(d, batches)| (d, sorted_rows(&batches)))
        .collect()
}

fn events(from: i64, to: i64) -> arrow::array::RecordBatch {
    use arrow::array::{Int64Array, StringArray};
    let ids: Vec<i64> = (from..to).collect();
    let kinds: Vec<&str> = ids
        .iter()
        .map(|i| ["call", "name", "attr", "def"][usize::try_from(i % 4).expect("small")])
        .collect();
    arrow::array::RecordBatch::try_from_iter([
        (
            "id",
            std::sync::Arc::new(Int64Array::from(ids)) as arrow::array::ArrayRef,
        ),
        ("kind", std::sync::Arc::new(StringArray::from(kinds))),
    ])
    .expect("batch")
}

/// A Hive-partitioned product and an append-incremental one over an input prefix on S3
/// (with a name that is not data beside its files): the same rows, by partition, as the
/// same pack over a local directory; a new input object is appended as a new part, the
/// earlier part kept.
#[test]
#[ignore = "needs an S3 server: cargo xtask s3"]
fn partitioned_and_appended_products_on_s3() {
    let work = scratch("s3-layouts");
    let bucket = Bucket::new("layouts");
    let pack = |dir: &Path, input: &str| {
        std::fs::create_dir_all(dir.join("contracts")).expect("pack");
        std::fs::write(
            dir.join("contracts/events.yaml"),
            "table: events\ncolumns:\n  - {name: id, type: int64}\n  - {name: kind, type: utf8}\n",
        )
        .expect("contract");
        std::fs::write(
            dir.join("by_kind.sql"),
            "SELECT kind, id, id * 2 AS twice FROM events\n",
        )
        .expect("rule");
        std::fs::write(
            dir.join("appended.sql"),
            "SELECT id, upper(kind) AS kind FROM events WHERE id % 2 = 0\n",
        )
        .expect("rule");
        std::fs::write(
            dir.join("pack.yaml"),
            format!(
                "name: layouts\ninputs:\n  events: {input}\nproducts:\n  by_kind: {{partition_by: [kind], order_by: [id]}}\n  appended: {{incremental: append}}\n"
            ),
        )
        .expect("pack.yaml");
    };
    let local_pack = work.join("local");
    pack(&local_pack, "data/events");
    let s3_pack = work.join("s3");
    pack(&s3_pack, &bucket.url("events"));
    let data = local_pack.join("data/events");
    std::fs::create_dir_all(&data).expect("data");
    crate::support::write_parquet(&data.join("a.parquet"), &events(0, 400));
    bucket.upload_dir(&data, "events");
    bucket.put(
        &bucket.prefix.join("events/_tmp/partial.parquet").path(),
        b"not data".to_vec(),
    );
    let local_out = work.join("local-out");
    let s3_out = bucket.url("out");
    let compare = |round: &str| {
        for product in ["by_kind", "appended"] {
            let local_manifest: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(local_out.join(product).join("_rulec/manifest.json"))
                    .expect("manifest"),
            )
            .expect("json");
            let scratch = work.join(format!("{round}-{product}"));
            std::fs::create_dir_all(&scratch).expect("scratch");
            let local = rows_by_directory(&local_manifest, &scratch, |name| {
                std::fs::read(local_out.join(product).join(name)).expect("read")
            });
            let on_s3 = rows_by_directory(&bucket.manifest("out", product), &scratch, |name| {
                bucket
                    .get(&format!("out/{product}/{name}"))
                    .unwrap_or_else(|| panic!("{product}: {name}"))
            });
            assert!(!local.is_empty());
            assert_eq!(on_s3, local, "{round}: {product}");
        }
    };
    for (pack_dir, out) in [
        (&local_pack, local_out.to_str().expect("utf-8")),
        (&s3_pack, s3_out.as_str()),
    ] {
        let (ok, report, stderr) = run(pack_dir, out, &[]);
        assert!(ok, "{stderr}");
        assert!(
            statuses(&report).values().all(|s| s == "rebuilt"),
            "{report}"
        );
    }
    compare("first");
    let by_kind = bucket.manifest("out", "by_kind");
    assert_eq!(by_kind["layout"]["partition_by"][0], "kind");
    assert!(
        bucket
            .keys("out/by_kind")
            .iter()
            .any(|k| k.starts_with("kind=call/")),
        "{:?}",
        bucket.keys("out/by_kind")
    );
    let first_part = bucket.manifest("out", "appended")["files"][0]["name"].clone();

    // A new input object: appended on both sides.
    crate::support::write_parquet(&data.join("b.parquet"), &events(400, 800));
    bucket.put(
        &bucket.prefix.join("events/b.parquet").path(),
        std::fs::read(data.join("b.parquet")).expect("read"),
    );
    for (pack_dir, out) in [
        (&local_pack, local_out.to_str().expect("utf-8")),
        (&s3_pack, s3_out.as_str()),
    ] {
        let (ok, report, stderr) = run(pack_dir, out, &[]);
        assert!(ok, "{stderr}");
        assert_eq!(statuses(&report)["appended"], "appended", "{report}");
    }
    compare("appended");
    let appended = bucket.manifest("out", "appended");
    assert_eq!(appended["files"][0]["name"], first_part);
    assert_eq!(appended["files"].as_array().expect("files").len(), 2);
    assert_eq!(appended["rows"], 400);
}
