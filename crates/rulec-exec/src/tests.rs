//! Unit tests of `rulec-exec`.

use crate::profile::{Profile, parse_size};
use crate::state::{FileEntry, Manifest, files_intact, write_atomically};
use rulec_pack::SortKey;
use std::collections::BTreeMap;

mod slices;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rulec-exec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

#[test]
fn atomic_writes_replace_whole_and_leave_no_temporary() {
    let dir = scratch("atomic");
    let path = dir.join("manifest.json");
    write_atomically(&path, b"old").expect("write");
    write_atomically(&path, b"new").expect("replace");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(names, ["manifest.json"]);
    let _ = std::fs::remove_dir_all(dir);
}

fn manifest(files: Vec<FileEntry>, plan: FileEntry) -> Manifest {
    Manifest {
        manifest_version: 1,
        product: "p".into(),
        build_id: crate::BuildId {
            id: "x".into(),
            components: BTreeMap::new(),
        },
        rows: 0,
        files,
        plan,
        schema: Vec::new(),
        order: crate::state::Ordering {
            tier: "none".into(),
            by: Vec::new(),
        },
        layout: crate::state::Layout::default(),
        settings: BTreeMap::new(),
        errors: None,
        slices: None,
        appended_from: None,
    }
}

#[test]
fn files_are_intact_only_with_their_sizes_and_a_parquet_trailer() {
    let dir = scratch("intact");
    std::fs::write(dir.join("part-a.parquet"), b"PAR1....PAR1").expect("w");
    std::fs::write(dir.join("plan-a.substrait"), b"plan").expect("w");
    std::fs::write(dir.join("part-old.parquet"), b"stale").expect("w");
    let entry = |name: &str, bytes: u64| FileEntry {
        name: name.into(),
        bytes,
        sha256: crate::state::sha256_file(&dir.join(name)).expect("hash"),
        rows: None,
    };
    let m = manifest(
        vec![entry("part-a.parquet", 12)],
        entry("plan-a.substrait", 4),
    );
    assert!(files_intact(&dir, &m, true));
    // Truncated: wrong size, and no trailer.
    std::fs::write(dir.join("part-a.parquet"), b"PAR1....").expect("w");
    assert!(!files_intact(&dir, &m, false));
    // Same size, different bytes: only --verify sees it.
    std::fs::write(dir.join("part-a.parquet"), b"PAR1xxxxPAR1").expect("w");
    assert!(files_intact(&dir, &m, false));
    assert!(!files_intact(&dir, &m, true));
    std::fs::remove_file(dir.join("plan-a.substrait")).expect("rm");
    assert!(!files_intact(&dir, &m, false));
    let _ = std::fs::remove_dir_all(dir);
}

/// A staged version replaces the product directory whole: the new files are there, the old
/// ones are gone, nothing is left in staging; a first version is renamed into place.
#[test]
fn a_staged_version_is_published_whole() {
    use crate::publish::{STAGING_DIR, Staging};
    let out = scratch("publish");
    let product = out.join("p");
    for version in ["one", "two"] {
        let staging = Staging::create(&out.join(STAGING_DIR), "p").expect("staging");
        assert!(staging.dir.starts_with(out.join(STAGING_DIR)));
        std::fs::write(staging.dir.join(format!("part-{version}.parquet")), version).expect("w");
        staging.publish(&product).expect("publish");
        let names: Vec<String> = std::fs::read_dir(&product)
            .expect("ls")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [format!("part-{version}.parquet")]);
    }
    let staged: Vec<_> = std::fs::read_dir(out.join(STAGING_DIR))
        .expect("ls")
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    // A discarded version leaves the product as it was.
    let staging = Staging::create(&out.join(STAGING_DIR), "p").expect("staging");
    std::fs::write(staging.dir.join("part-three.parquet"), "3").expect("w");
    staging.discard();
    assert!(product.join("part-two.parquet").exists());
    assert!(!product.join("part-three.parquet").exists());
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn sizes_sort_keys_and_profiles_parse() {
    assert_eq!(parse_size("512M"), Some(512 << 20));
    assert_eq!(parse_size("2G"), Some(2 << 30));
    assert_eq!(parse_size("1.5k"), Some(1536));
    assert_eq!(parse_size("12"), Some(12));
    for bad in ["", "G", "12Q", "-1M", "0"] {
        assert_eq!(parse_size(bad), None, "{bad}");
    }
    assert_eq!(
        SortKey::parse("file_id desc"),
        Some(SortKey {
            column: "file_id".into(),
            descending: true
        })
    );
    assert_eq!(SortKey::parse("a asc").map(|k| k.descending), Some(false));
    assert_eq!(SortKey::parse("a sideways"), None);
    assert_eq!(SortKey::parse("a desc extra"), None);

    let none = BTreeMap::new();
    let safe = Profile::resolve(Some("safe"), &none, &[], None).expect("safe");
    assert_eq!(
        safe.effective_settings()["datafusion.execution.target_partitions"],
        "1"
    );
    let set = [(
        "datafusion.execution.batch_size".to_owned(),
        "1024".to_owned(),
    )];
    let fast = Profile::resolve(None, &none, &set, None).expect("fast");
    assert_eq!(
        fast.effective_settings()["datafusion.execution.batch_size"],
        "1024"
    );
    assert_ne!(safe.hash(), fast.hash());
    let limited = Profile::resolve(Some("memory-limited"), &none, &[], None).expect("limited");
    assert_eq!(
        limited.memory_limit,
        Some(crate::profile::DEFAULT_MEMORY_LIMIT)
    );
    assert!(Profile::resolve(Some("turbo"), &none, &[], None).is_err());
    let bad = [("datafusion.nope".to_owned(), "1".to_owned())];
    assert!(Profile::resolve(None, &none, &bad, None).is_err());
    let bad = [(
        "datafusion.execution.batch_size".to_owned(),
        "many".to_owned(),
    )];
    assert!(Profile::resolve(None, &none, &bad, None).is_err());
}

#[test]
fn a_new_fingerprint_encoding_is_one_rebuild_reason() {
    let build = |rulec: &str, query: &str, input: &str, upstream: &str| crate::BuildId {
        id: format!("{rulec}{query}{input}{upstream}"),
        components: [
            ("rulec", rulec),
            ("query", query),
            ("input:t", input),
            ("rule:up.a", upstream),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    };
    let v3 = "rulec 0.0.0 / datafusion 55.2 / fingerprint v3";
    let v4 = "rulec 0.0.0 / datafusion 55.2 / fingerprint v4";
    // Every query and upstream identity moved with the encoding: one reason.
    assert_eq!(
        crate::identity::rebuild_reasons(&build(v3, "q3", "i", "u3"), &build(v4, "q4", "i", "u4")),
        ["fingerprint version changed"]
    );
    // Input data that changed too is still said.
    assert_eq!(
        crate::identity::rebuild_reasons(&build(v3, "q3", "i", "u3"), &build(v4, "q4", "j", "u4")),
        ["fingerprint version changed", "input t changed"]
    );
    // Under one encoding, a changed query is a changed query.
    assert_eq!(
        crate::identity::rebuild_reasons(&build(v4, "q3", "i", "u"), &build(v4, "q4", "i", "u")),
        ["query changed"]
    );
}

/// Writes one Parquet file of an `id: int64` column.
fn write_ids(path: &std::path::Path, ids: &[i64]) {
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
    let batch = RecordBatch::try_new(
        std::sync::Arc::clone(&schema),
        vec![std::sync::Arc::new(Int64Array::from(ids.to_vec()))],
    )
    .expect("batch");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

#[tokio::test]
async fn a_directory_input_reads_exactly_the_files_its_identity_counts() {
    let dir = scratch("dir-input");
    write_ids(&dir.join("a.parquet"), &[1, 2]);
    write_ids(&dir.join("repo=x/c.parquet"), &[3]);
    // Not data, at any depth: another writer's temporary and hidden files.
    write_ids(&dir.join("_partial.parquet"), &[100]);
    write_ids(&dir.join(".staging/b.parquet"), &[200]);
    write_ids(&dir.join("repo=y/_tmp/d.parquet"), &[300]);
    std::fs::write(dir.join("repo=y/.e.parquet"), b"").expect("an empty hidden file");

    let files = crate::identity::data_files(&dir).expect("list");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&dir).expect("inside").display().to_string())
        .collect();
    assert_eq!(names, ["a.parquet", "repo=x/c.parquet"]);

    let contract = rulec_contract::parse_contract(
        "contracts/t.yaml",
        "table: t\ncolumns:\n  - {name: id, type: int64}\n",
    )
    .expect("contract");
    let ctx = datafusion::prelude::SessionContext::new_with_state(crate::runtime_session());
    let provider = match crate::check_input(&ctx.state(), "t", &dir.clone().into(), &contract).await
    {
        crate::InputCheck::Ok(provider, _) => provider,
        crate::InputCheck::Failed(d) => panic!("{d:?}"),
    };
    ctx.register_table("t", provider).expect("register");
    let batches = ctx
        .sql("SELECT count(*) AS n, sum(id) AS total FROM t")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string();
    assert!(text.contains("| 3 | 6     |"), "{text}");

    // The identity does not move when only what is not data changes.
    let state = ctx.state();
    let before = input_identity(&state, &dir).await;
    write_ids(&dir.join("_partial.parquet"), &[100, 101]);
    let after = input_identity(&state, &dir).await;
    assert_eq!(before, after);
    let _ = std::fs::remove_dir_all(dir);
}

/// The identity of the input at `dir`, as a run computes it.
async fn input_identity(
    state: &datafusion::execution::SessionState,
    dir: &std::path::Path,
) -> String {
    let location = crate::Location::Local(dir.to_path_buf());
    let files = crate::inputs::data_files(state, &location)
        .await
        .expect("list")
        .expect("there");
    let files = crate::identity::input_files(state, &files, crate::InputIdentity::Metadata)
        .await
        .expect("identity");
    crate::identity::files_identity(&files)
}

/// Locations: local paths, `s3://` URLs (`s3a://` read as `s3://`), keys joined and made
/// relative, URLs the engine lists with special characters escaped; other schemes refused.
#[test]
fn locations_parse_join_and_escape() {
    use crate::location::Location;
    let Ok(Location::Object(o)) = Location::parse("s3a://bucket/a//b/") else {
        panic!("an object location");
    };
    assert_eq!((o.bucket.as_str(), o.key.as_str()), ("bucket", "a/b"));
    assert_eq!(o.to_string(), "s3://bucket/a/b");
    let file = o.join("p/part 1*.parquet");
    assert_eq!(file.key, "a/b/p/part 1*.parquet");
    assert_eq!(o.relative(&file.path()), "p/part 1*.parquet");
    assert_eq!(
        file.table_url(false).expect("url").as_str(),
        "s3://bucket/a/b/p/part%201%2A.parquet"
    );
    assert!(o.table_url(true).expect("url").as_str().ends_with("a/b/"));
    assert_eq!(
        Location::resolve(std::path::Path::new("/pack"), "data/x.parquet"),
        Ok(Location::Local("/pack/data/x.parquet".into()))
    );
    assert_eq!(
        Location::resolve(std::path::Path::new("/pack"), "/abs/x"),
        Ok(Location::Local("/abs/x".into()))
    );
    for bad in ["gs://b/k", "s3:///k", "s3://b/../k"] {
        assert!(Location::parse(bad).is_err(), "{bad}");
    }
}
