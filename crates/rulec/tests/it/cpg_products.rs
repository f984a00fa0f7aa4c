//! `rulec run rules/cpg` materializes every product, with the row counts an independent
//! computation over the input Parquet (plain Rust over Arrow arrays, not SQL) says.

use crate::support::{product_file, read_parquet as read, root, rulec, scratch};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use std::collections::BTreeMap;
use std::path::Path;

/// Each node id of a list of node-id structs, as its fields in struct order (namespace,
/// file id, local id): the order `array_sort` compares them in.
fn node_ids(ids: &arrow::array::StructArray) -> Vec<(String, i64, i64)> {
    let field = |name: &str| ids.column_by_name(name).expect(name);
    let namespace = field("namespace").as_string::<i32>();
    let file = field("file_id").as_primitive::<Int64Type>();
    let local = field("local_id").as_primitive::<Int64Type>();
    (0..ids.len())
        .map(|i| (namespace.value(i).to_owned(), file.value(i), local.value(i)))
        .collect()
}

/// Each file's `nodes` are in node-id order (unique) and its `edges` in (kind, src, dst)
/// order, as `rules/cpg/README.md` promises.
fn assert_graph_lists_are_ordered(batch: &RecordBatch) {
    let file_ids = batch.column_by_name("file_id").expect("file_id");
    let file_ids = file_ids.as_primitive::<Int64Type>();
    let nodes = batch
        .column_by_name("nodes")
        .expect("nodes")
        .as_list::<i32>();
    let edges = batch
        .column_by_name("edges")
        .expect("edges")
        .as_list::<i32>();
    for row in 0..batch.num_rows() {
        let file = file_ids.value(row);
        if nodes.is_valid(row) {
            let list = nodes.value(row);
            let ids = node_ids(
                list.as_struct()
                    .column_by_name("node_id")
                    .expect("node_id")
                    .as_struct(),
            );
            assert!(ids.is_sorted(), "file {file}: nodes out of order");
            assert!(
                ids.windows(2).all(|w| w[0] != w[1]),
                "file {file}: a node twice"
            );
        }
        if edges.is_valid(row) {
            let list = edges.value(row);
            let list = list.as_struct();
            let kinds = list.column_by_name("kind").expect("kind");
            let kinds = kinds.as_string::<i32>();
            let src = node_ids(list.column_by_name("src").expect("src").as_struct());
            let dst = node_ids(list.column_by_name("dst").expect("dst").as_struct());
            let keys: Vec<_> = (0..list.len())
                .map(|i| (kinds.value(i), &src[i], &dst[i]))
                .collect();
            assert!(keys.is_sorted(), "file {file}: edges out of order");
        }
    }
}

fn rows(path: &Path) -> usize {
    read(path).iter().map(RecordBatch::num_rows).sum()
}

/// (file_id, path, start line, start col, end line, end col)
type SpanKey = (i64, String, i32, i32, i32, i32);

struct Expected {
    nodes: usize,
    edges: usize,
    occurrences: usize,
    bridges: usize,
    symbols: usize,
    relationships: usize,
    files: usize,
}

fn span_key(file_id: i64, path: &str, span: &arrow::array::StructArray, i: usize) -> SpanKey {
    let point = |name: &str| {
        let s = span.column_by_name(name).expect(name).as_struct();
        (
            s.column_by_name("line0")
                .expect("line0")
                .as_primitive::<Int32Type>()
                .value(i),
            s.column_by_name("col")
                .expect("col")
                .as_primitive::<Int32Type>()
                .value(i),
        )
    };
    let (l0, c0) = point("start");
    let (l1, c1) = point("end");
    (file_id, path.to_owned(), l0, c0, l1, c1)
}

fn expected(data: &Path) -> Expected {
    // Occurrence spans, with multiplicity.
    let mut occurrence_spans: BTreeMap<SpanKey, usize> = BTreeMap::new();
    let mut occurrences = 0;
    for batch in read(&data.join("scip_occurrences.parquet")) {
        let col = |n: &str| batch.column_by_name(n).unwrap_or_else(|| panic!("{n}"));
        let doc = col("document_id").as_primitive::<Int64Type>();
        let path = col("path").as_string::<i32>();
        let ints = |n: &str| col(n).as_primitive::<Int32Type>().clone();
        let (sl, sc, el, ec) = (
            ints("start_line"),
            ints("start_char"),
            ints("end_line"),
            ints("end_char"),
        );
        for i in 0..batch.num_rows() {
            occurrences += 1;
            let key = (
                doc.value(i),
                path.value(i).to_owned(),
                sl.value(i),
                sc.value(i),
                el.value(i),
                ec.value(i),
            );
            *occurrence_spans.entry(key).or_default() += 1;
        }
    }
    let (mut nodes, mut edges, mut bridges, mut files) = (0, 0, 0, 0);
    for batch in read(&data.join("libcst_files.parquet")) {
        let file_ids = batch
            .column_by_name("file_id")
            .expect("file_id")
            .as_primitive::<Int64Type>();
        let paths = batch
            .column_by_name("path")
            .expect("path")
            .as_string::<i32>();
        let node_lists = batch
            .column_by_name("nodes")
            .expect("nodes")
            .as_list::<i32>();
        let edge_lists = batch
            .column_by_name("edges")
            .expect("edges")
            .as_list::<i32>();
        for row in 0..batch.num_rows() {
            files += 1;
            edges += edge_lists.value(row).len();
            let file_nodes = node_lists.value(row);
            let file_nodes = file_nodes.as_struct();
            nodes += file_nodes.len();
            let kinds = file_nodes
                .column_by_name("kind")
                .expect("kind")
                .as_string::<i32>();
            let spans = file_nodes.column_by_name("span").expect("span").as_struct();
            for i in 0..file_nodes.len() {
                if matches!(kinds.value(i), "libcst.Name" | "libcst.Attribute") {
                    let key = span_key(file_ids.value(row), paths.value(row), spans, i);
                    bridges += occurrence_spans.get(&key).copied().unwrap_or(0);
                }
            }
        }
    }
    let mut symbols = 0;
    for batch in read(&data.join("symtable_files.parquet")) {
        let blocks = batch
            .column_by_name("blocks")
            .expect("blocks")
            .as_list::<i32>();
        for row in 0..batch.num_rows() {
            let file_blocks = blocks.value(row);
            let symbol_lists = file_blocks
                .as_struct()
                .column_by_name("symbols")
                .expect("symbols")
                .as_list::<i32>();
            for b in 0..symbol_lists.len() {
                if symbol_lists.is_valid(b) {
                    symbols += symbol_lists.value(b).len();
                }
            }
        }
    }
    let mut relationships = 0;
    for batch in read(&data.join("scip_symbols.parquet")) {
        let lists = batch
            .column_by_name("relationships")
            .expect("relationships")
            .as_list::<i32>();
        for row in 0..batch.num_rows() {
            if lists.is_valid(row) {
                relationships += lists.value(row).len();
            }
        }
    }
    Expected {
        nodes,
        edges,
        occurrences,
        bridges,
        symbols,
        relationships,
        files,
    }
}

#[test]
fn run_materializes_every_cpg_product_with_the_right_row_counts() {
    let out = scratch("cpg_products");
    let output = rulec(&["run", "rules/cpg", "--out", out.to_str().expect("utf8")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let e = expected(&root().join("rules/cpg/data"));
    // The README of the data says 10030 Name matches and 19 Attribute matches.
    assert_eq!(
        (e.nodes, e.edges, e.occurrences, e.bridges, e.symbols),
        (94743, 94720, 10083, 10049, 3230)
    );
    let product = |name: &str| rows(&product_file(&out, name));
    assert_eq!(product("libcst_nodes"), e.nodes);
    assert_eq!(product("libcst_edges"), e.edges);
    assert_eq!(product("scip_occurrence_spans"), e.occurrences);
    assert_eq!(product("cpg_bridge_cst_scip"), e.bridges);
    assert_eq!(product("cpg_nodes"), e.nodes + e.occurrences);
    assert_eq!(product("cpg_edges"), e.edges + e.bridges);
    assert_eq!(product("symtable_symbols"), e.symbols);
    assert_eq!(product("scip_symbol_relationships"), e.relationships);
    assert!(e.relationships > 0);
    assert_eq!(product("cpg_graph_by_file"), e.files);

    // The per-file graph holds every node and edge exactly once.
    let graph = read(&product_file(&out, "cpg_graph_by_file"));
    let (mut graph_nodes, mut graph_edges) = (0, 0);
    for batch in &graph {
        assert_graph_lists_are_ordered(batch);
        graph_nodes += batch
            .column_by_name("nodes")
            .expect("nodes")
            .as_list::<i32>()
            .values()
            .len();
        graph_edges += batch
            .column_by_name("edges")
            .expect("edges")
            .as_list::<i32>()
            .values()
            .len();
    }
    assert_eq!(
        (graph_nodes, graph_edges),
        (e.nodes + e.occurrences, e.edges + e.bridges)
    );

    // The report names every product with its row count, and each product keeps the
    // Substrait plan it was computed from.
    let report: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .take(8)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        report.iter().all(|cols| cols.contains(&"rebuilt")),
        "{stdout}"
    );
    let bridge_rows = e.bridges.to_string();
    assert!(
        report
            .iter()
            .any(|cols| cols[..2] == ["cpg_bridge_cst_scip", bridge_rows.as_str()]),
        "{stdout}"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("cpg_nodes/_rulec/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert!(
        out.join("cpg_nodes")
            .join(manifest["plan"]["name"].as_str().expect("plan"))
            .is_file()
    );
}

#[test]
fn a_failed_run_keeps_the_previous_product() {
    let out = scratch("keeps_previous");
    let ok = rulec(&[
        "run",
        "rules/cpg",
        "--only",
        "scip_occurrence_spans",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = std::fs::read(product_file(&out, "scip_occurrence_spans")).expect("product");

    // The same pack with its input missing: the run fails before writing anything.
    let broken = scratch("keeps_previous_pack");
    crate::support::copy_cpg(&broken);
    std::fs::remove_file(broken.join("data/scip_occurrences.parquet")).expect("remove input");
    let failed = rulec(&[
        "run",
        broken.to_str().expect("utf8"),
        "--only",
        "scip_occurrence_spans",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("R001") && stderr.contains("scip_occurrences.parquet"),
        "{stderr}"
    );
    let after = std::fs::read(product_file(&out, "scip_occurrence_spans")).expect("product kept");
    assert_eq!(before, after);
}

/// Sorted CPG products are byte-identical run to run and across `target_partitions`, though
/// their sort keys tie on many rows that differ only in nested columns (node-id structs, a
/// map of attributes): ties are broken by those columns too.
#[test]
fn sorted_products_with_ties_in_nested_columns_are_byte_identical() {
    let work = scratch("cpg-sorted-ties");
    let pack = work.join("cpg");
    crate::support::copy_cpg_with_layouts(&pack);
    let out = work.join("out");
    let mut versions: BTreeMap<&str, Vec<Vec<(String, String)>>> = BTreeMap::new();
    for partitions in ["1", "4", "4"] {
        let setting = format!("datafusion.execution.target_partitions={partitions}");
        let output = rulec(&[
            "run",
            pack.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--force",
            "--set",
            &setting,
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for product in ["cpg_edges", "symtable_symbols"] {
            let manifest: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(out.join(product).join("_rulec/manifest.json"))
                    .expect("manifest"),
            )
            .expect("json");
            assert_eq!(manifest["order"]["tier"], "sorted");
            let files = crate::support::data_file_hashes(&out.join(product));
            versions.entry(product).or_default().push(files);
        }
    }
    for (product, runs) in &versions {
        assert!(runs.windows(2).all(|w| w[0] == w[1]), "{product}: {runs:?}");
    }
    // The keys of cpg_edges, (file_id, kind), tie: far fewer distinct pairs than rows.
    let batches = read(&product_file(&out, "cpg_edges"));
    let mut keys = std::collections::BTreeSet::new();
    let mut rows = 0;
    for batch in &batches {
        let file = batch.column_by_name("file_id").expect("file_id");
        let file = file.as_primitive::<Int64Type>();
        let kind = batch.column_by_name("kind").expect("kind");
        let kind = kind.as_string::<i32>();
        for i in 0..batch.num_rows() {
            keys.insert((file.value(i), kind.value(i).to_owned()));
        }
        rows += batch.num_rows();
    }
    assert!(keys.len() * 100 < rows, "{} keys, {rows} rows", keys.len());
}
