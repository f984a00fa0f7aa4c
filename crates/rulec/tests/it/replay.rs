//! `rulec replay`: a product's stored plan re-run against what it was built from. The
//! refusals (a tampered or foreign plan, a stale product, a forged row count) are cases of
//! the run fixture corpus (`tests/fixtures/run/replay_*`).

use crate::support::{copy_cpg_with_layouts, rulec, scratch};
use serde_json::Value;

fn replay(
    product: &std::path::Path,
    pack: &std::path::Path,
    extra: &[&str],
) -> (bool, Value, String) {
    let mut args = vec![
        "replay",
        product.to_str().expect("utf-8"),
        "--pack",
        pack.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = rulec(&args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    (output.status.success(), report, stdout)
}

/// The CPG pack with its sorted products: a sorted product replays byte for byte, a
/// reused one (the second run builds nothing) replays its rows, and `--explain --analyze`
/// show the physical plan and its operators' metrics.
#[test]
fn sorted_and_reused_products_replay_as_recorded() {
    let work = scratch("replay/cpg");
    let pack = work.join("cpg");
    copy_cpg_with_layouts(&pack);
    let out = work.join("out");
    for _ in 0..2 {
        let run = rulec(&[
            "run",
            pack.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        assert!(run.status.success(), "{run:?}");
    }
    // The second run reused every product.
    let manifest = |product: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.join(product).join("_rulec/manifest.json"))
                .expect("manifest"),
        )
        .expect("a manifest")
    };

    // Sorted (and partitioned, in several files): every file compared.
    for product in ["cpg_edges", "symtable_symbols"] {
        let (ok, report, text) = replay(&out.join(product), &pack, &[]);
        assert!(ok, "{product}: {text}");
        let recorded = manifest(product);
        assert_eq!(report["rows"], recorded["rows"], "{text}");
        let files = recorded["files"].as_array().expect("files").len();
        assert!(files >= 1);
        assert_eq!(
            report["files_compared"].as_u64(),
            Some(files as u64),
            "{text}"
        );
    }

    // Unsorted and reused: its rows; with the physical plan and the metrics shown.
    let (ok, report, text) = replay(&out.join("cpg_nodes"), &pack, &["--explain", "--analyze"]);
    assert!(ok, "{text}");
    assert_eq!(report["rows"], manifest("cpg_nodes")["rows"]);
    assert_eq!(report["files_compared"], 0);
    let plans = report["physical_plans"].as_array().expect("plans");
    assert!(
        plans
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("DataSourceExec"))),
        "{text}"
    );
    let metrics = report["metrics"].as_array().expect("metrics");
    assert!(
        metrics
            .iter()
            .any(|m| m["output_rows"].as_u64().is_some_and(|n| n > 0)),
        "{text}"
    );

    // Human output says what was replayed.
    let human = rulec(&[
        "replay",
        out.join("cpg_edges").to_str().expect("utf-8"),
        "--pack",
        pack.to_str().expect("utf-8"),
    ]);
    let printed = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.status.success() && printed.contains("byte for byte"),
        "{printed}"
    );

    // Nothing published changed: the products' manifests are the run's.
    let again = rulec(&[
        "run",
        pack.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&again.stdout).expect("json");
    let statuses: Vec<&str> = report["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["status"].as_str())
        .collect();
    assert!(statuses.iter().all(|s| *s == "reused"), "{statuses:?}");
}
