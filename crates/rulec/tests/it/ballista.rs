//! `rulec run --engine ballista`: products computed on a Ballista cluster (here an
//! in-process scheduler with two executors on loopback, `--scheduler standalone`) are the
//! local run's products, and are reused across engines like any product.

use crate::support::{read_parquet, rulec, scratch, sorted_rows};
use std::collections::BTreeMap;
use std::path::Path;

/// Every product's rows, sorted, read from the files its manifest lists.
fn products(pack: &rulec_pack::Pack, out: &Path) -> BTreeMap<String, Vec<String>> {
    pack.rules
        .iter()
        .map(|rule| {
            let manifest: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(out.join(&rule.name).join("_rulec/manifest.json"))
                    .expect("manifest"),
            )
            .expect("manifest json");
            let mut batches = Vec::new();
            for file in manifest["files"].as_array().expect("files") {
                let name = file["name"].as_str().expect("file name");
                batches.extend(read_parquet(&out.join(&rule.name).join(name)));
            }
            (rule.name.clone(), sorted_rows(&batches))
        })
        .collect()
}

/// Asserts `got` has `expected`'s products with the same rows; says which differ, and how.
fn assert_same_products(
    got: &BTreeMap<String, Vec<String>>,
    expected: &BTreeMap<String, Vec<String>>,
) {
    let mut differences = Vec::new();
    for (name, rows) in expected {
        let theirs = got.get(name).map(Vec::as_slice).unwrap_or_default();
        if theirs != rows.as_slice() {
            let first = rows
                .iter()
                .zip(theirs)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("\n    local:   {a:.200}\n    cluster: {b:.200}"))
                .unwrap_or_default();
            differences.push(format!(
                "{name}: {} rows on the cluster, {} locally{first}",
                theirs.len(),
                rows.len()
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert_eq!(got.len(), expected.len());
}

fn run(pack: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        pack.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = rulec(&args);
    assert!(
        output.status.success(),
        "rulec {args:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("run report")
}

fn statuses(report: &serde_json::Value) -> Vec<String> {
    report["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const CLUSTER: &[&str] = &["--engine", "ballista", "--scheduler", "standalone"];

#[test]
fn the_cpg_pack_on_a_standalone_cluster_gives_the_local_products() {
    let work = scratch("ballista-cpg");
    let pack_dir = work.join("cpg");
    crate::support::copy_tree(
        &crate::support::root().join("rules/cpg"),
        &pack_dir,
        &["out"],
    );
    let (pack, _) = crate::support::compile(&pack_dir);
    let local = work.join("local");
    let cluster = work.join("cluster");
    run(&pack_dir, &local, &[]);
    let report = run(&pack_dir, &cluster, CLUSTER);
    assert!(statuses(&report).iter().all(|s| s == "rebuilt"), "{report}");
    let expected = products(&pack, &local);
    assert!(expected.values().all(|rows| !rows.is_empty()));
    assert_same_products(&products(&pack, &cluster), &expected);
    // The same build ids: what one engine built, the other reuses.
    let again = run(&pack_dir, &local, CLUSTER);
    assert!(statuses(&again).iter().all(|s| s == "reused"), "{again}");
}

#[test]
fn tpch_on_a_standalone_cluster_gives_the_local_products() {
    let work = scratch("ballista-tpch");
    let pack_dir = work.join("tpch");
    crate::support::copy_tree(
        &crate::support::root().join("rules/tpch"),
        &pack_dir,
        &["out"],
    );
    let (pack, _) = crate::support::compile(&pack_dir);
    std::fs::create_dir_all(pack_dir.join("data")).expect("data");
    let mut manifest = std::fs::read_to_string(pack_dir.join("pack.yaml")).expect("pack.yaml");
    manifest.push_str("inputs:\n");
    for (table, batches) in crate::execute::tpch_batches(&pack) {
        let file = pack_dir.join("data").join(format!("{table}.parquet"));
        let schema = batches[0].schema();
        let out = std::fs::File::create(&file).expect("create");
        let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema, None).expect("writer");
        for batch in &batches {
            writer.write(batch).expect("write");
        }
        writer.close().expect("close");
        manifest.push_str(&format!("  {table}: data/{table}.parquet\n"));
    }
    std::fs::write(pack_dir.join("pack.yaml"), manifest).expect("pack.yaml");
    let local = work.join("local");
    let cluster = work.join("cluster");
    run(&pack_dir, &local, &[]);
    run(&pack_dir, &cluster, CLUSTER);
    let expected = products(&pack, &local);
    assert_eq!(expected.len(), 22);
    assert_same_products(&products(&pack, &cluster), &expected);
}
