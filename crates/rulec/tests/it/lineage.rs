//! Column lineage: snapshots for every rule of `rules/cpg` and `rules/tpch`, specific edges
//! (inspect-only, nested fields, `SELECT *`), the CLI's formats, and scans that read only
//! what lineage says a rule reads.

use crate::support::{compile, root, rulec, session_with_inputs};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use rulec_lineage::{ColumnRef, EdgeKind, PackLineage};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn lineage_of(pack: &str) -> PackLineage {
    let (pack, compiled) = compile(&root().join("rules").join(pack));
    PackLineage::build(&pack, &compiled)
}

fn col(text: &str) -> ColumnRef {
    ColumnRef::parse(text).expect("path").1.expect("a column")
}

/// The kind of the one-hop edge `from` → `to`, if there is one.
fn edge(lineage: &PackLineage, from: &str, to: &str) -> Option<EdgeKind> {
    let to = col(to);
    lineage
        .rule(&to.table)?
        .column(&to.column)?
        .get(&col(from))
        .copied()
}

#[test]
fn every_rule_has_a_lineage_snapshot() {
    for pack in ["cpg", "tpch"] {
        let lineage = lineage_of(pack);
        assert!(!lineage.rules.is_empty());
        for rule in &lineage.rules {
            let text = rulec_lineage::text_rule(&lineage, &rule.name);
            insta::with_settings!({
                snapshot_path => root().join("snapshots/lineage").join(pack),
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(rule.name.clone(), text);
            });
        }
    }
}

#[test]
fn cpg_edges_follow_nested_fields_and_separate_inspection() {
    let l = lineage_of("cpg");
    // Through unnest and struct access: a copy of the nested field.
    assert_eq!(
        edge(&l, "libcst_files.nodes[*].kind", "libcst_nodes.kind"),
        Some(EdgeKind::Copy)
    );
    assert_eq!(
        edge(&l, "libcst_files.nodes[*].span", "libcst_nodes.span"),
        Some(EdgeKind::Copy)
    );
    // Unnesting decides the rows: the list is inspected by every column.
    assert_eq!(
        edge(&l, "libcst_files.nodes", "libcst_nodes.file_id"),
        Some(EdgeKind::Inspect)
    );
    // Join keys on nested fields and the WHERE filter: inspect-only edges.
    for key in [
        "libcst_nodes.span.start.line0",
        "libcst_nodes.span.end.col",
        "libcst_nodes.kind",
        "scip_occurrence_spans.span.start.col",
    ] {
        assert_eq!(
            edge(&l, key, "cpg_bridge_cst_scip.symbol"),
            Some(EdgeKind::Inspect),
            "{key}"
        );
    }
    assert_eq!(
        edge(&l, "libcst_nodes.kind", "cpg_bridge_cst_scip.node_kind"),
        Some(EdgeKind::Copy)
    );
    assert_eq!(
        edge(
            &l,
            "scip_occurrence_spans.symbol",
            "cpg_bridge_cst_scip.symbol"
        ),
        Some(EdgeKind::Copy)
    );
    // A computed column is a transform.
    assert_eq!(
        edge(&l, "libcst_nodes.cst_id", "cpg_nodes.node_id"),
        Some(EdgeKind::Transform)
    );

    // Down to the inputs, through two rules, with the nested path kept.
    let resolved = l.input_deps("cpg_bridge_cst_scip", "node_kind");
    assert_eq!(
        resolved.get(&col("libcst_files.nodes[*].kind")),
        Some(&EdgeKind::Copy),
        "{resolved:?}"
    );
    assert_eq!(
        resolved.get(&col("libcst_files.nodes[*].span.start.line0")),
        Some(&EdgeKind::Inspect)
    );
    assert!(
        resolved.keys().all(|c| l.is_input(&c.table)),
        "{resolved:?}"
    );

    // Downstream: who reads libcst_files.nodes (any field of it)?
    let readers: BTreeSet<String> = l
        .downstream(&[col("libcst_files.nodes")])
        .into_iter()
        .map(|e| e.to.to_string())
        .collect();
    for reader in [
        "libcst_nodes.kind",
        "cpg_bridge_cst_scip.span",
        "cpg_nodes.kind",
        "cpg_graph_by_file.nodes",
    ] {
        assert!(
            readers.contains(reader),
            "{reader} not downstream of libcst_files.nodes: {readers:?}"
        );
    }
    assert!(
        !readers.iter().any(|r| r.starts_with("symtable_symbols.")),
        "{readers:?}"
    );

    // Requirements and what no rule reads.
    let reads = l.reads("scip_occurrence_spans");
    assert!(reads.contains(&col("scip_occurrences.start_line")));
    let unused: Vec<String> = l.unused_inputs().iter().map(ToString::to_string).collect();
    assert!(
        unused.contains(&"scip_symbols.documentation".to_owned()),
        "{unused:?}"
    );
    assert!(
        !unused.iter().any(|u| u.starts_with("libcst_files.nodes")),
        "{unused:?}"
    );
}

#[test]
fn tpch_edges_tell_values_from_filters() {
    let l = lineage_of("tpch");
    assert_eq!(
        edge(&l, "lineitem.l_quantity", "q01.sum_qty"),
        Some(EdgeKind::Transform)
    );
    assert_eq!(
        edge(&l, "lineitem.l_returnflag", "q01.l_returnflag"),
        Some(EdgeKind::Copy)
    );
    // Filtered on, never output: inspect-only, for every column.
    for column in ["l_returnflag", "sum_qty", "count_order"] {
        assert_eq!(
            edge(&l, "lineitem.l_shipdate", &format!("q01.{column}")),
            Some(EdgeKind::Inspect)
        );
    }
    // Grouped on: the other columns inspect it.
    assert_eq!(
        edge(&l, "lineitem.l_linestatus", "q01.sum_qty"),
        Some(EdgeKind::Inspect)
    );
    // A join key that is not output (q03: c_custkey = o_custkey).
    assert_eq!(
        edge(&l, "customer.c_custkey", "q03.revenue"),
        Some(EdgeKind::Inspect)
    );
    assert_eq!(
        edge(&l, "customer.c_mktsegment", "q03.l_orderkey"),
        Some(EdgeKind::Inspect)
    );
}

#[test]
fn select_star_is_resolved_through_rules() {
    use rulec_pack::PackFiles;
    let files = PackFiles::from_memory(
        "mem",
        [
            ("pack.yaml", "name: star\n"),
            (
                "contracts/t.yaml",
                "table: t\ncolumns:\n  - {name: id, type: int64}\n  - {name: s, type: \"struct<a: int32, b: list<struct<c: utf8>>>\"}\n  - {name: unused, type: utf8}\n",
            ),
            ("a.sql", "SELECT * FROM t WHERE id > 0"),
            ("b.sql", "SELECT * FROM (SELECT * FROM a) AS x"),
            ("c.sql", "SELECT b.s.a AS a, b.* FROM b"),
            ("d.sql", "SELECT count(*) AS n FROM a"),
        ]
        .map(|(p, t)| (p.to_owned(), t.as_bytes().to_vec())),
    );
    let project = rulec_driver::Project::from_files(std::path::Path::new("mem"), files);
    let (Some(pack), Some(compiled)) = (&project.pack, &project.compiled) else {
        panic!("{:?}", project.load_diagnostics);
    };
    let l = PackLineage::build(pack, compiled);
    assert_eq!(
        l.rules.len(),
        4,
        "{:?}",
        compiled
            .rules
            .iter()
            .map(|r| &r.diagnostics)
            .collect::<Vec<_>>()
    );
    let c = l.rule("c").expect("c");
    let names: Vec<&str> = c.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "id", "s", "unused"]);
    assert_eq!(edge(&l, "b.s.a", "c.a"), Some(EdgeKind::Copy));
    assert_eq!(
        l.input_deps("c", "a").get(&col("t.s.a")),
        Some(&EdgeKind::Copy)
    );
    assert_eq!(
        l.input_deps("c", "unused").get(&col("t.unused")),
        Some(&EdgeKind::Copy)
    );
    assert_eq!(
        l.input_deps("c", "unused").get(&col("t.id")),
        Some(&EdgeKind::Inspect)
    );
    // Counting rows reads no column, but depends on the rows, down to what filters them.
    assert_eq!(edge(&l, "a.*", "d.n"), Some(EdgeKind::Inspect));
    assert_eq!(
        l.input_deps("d", "n").into_iter().collect::<Vec<_>>(),
        vec![(col("t.id"), EdgeKind::Inspect)]
    );
    let readers: Vec<String> = l
        .downstream(&[ColumnRef::rows("a")])
        .iter()
        .map(|e| e.to.to_string())
        .collect();
    assert_eq!(readers, ["d.n"]);
    // Reading all of `t` through `*`, nothing of it is unused.
    assert!(l.unused_inputs().is_empty(), "{:?}", l.unused_inputs());
}

#[test]
fn lineage_command_formats() {
    let out = rulec(&[
        "lineage",
        "rules/cpg",
        "libcst_files.nodes",
        "--downstream",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["direction"], "downstream");
    let edges = report["edges"].as_array().expect("edges");
    assert!(
        edges
            .iter()
            .any(|e| e["from"] == "libcst_files.nodes[*].kind"
                && e["to"] == "libcst_nodes.kind"
                && e["kind"] == "copy")
    );

    let out = rulec(&["lineage", "rules/cpg", "cpg_nodes.kind"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("cpg_nodes.kind (rule)\n"), "{text}");
    assert!(text.contains("copy      libcst_nodes.kind"), "{text}");
    assert!(
        text.contains("libcst_files.nodes[*].kind (input)"),
        "{text}"
    );

    let out = rulec(&[
        "lineage",
        "rules/cpg",
        "libcst_nodes.span",
        "--downstream",
        "--format",
        "dot",
    ]);
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.starts_with("digraph lineage {"), "{dot}");
    assert!(
        dot.contains("\"libcst_nodes.span\" -> \"cpg_nodes.span\" [label=\"copy\"]"),
        "{dot}"
    );
    assert!(
        dot.contains("style=dashed"),
        "inspect edges are dashed: {dot}"
    );

    let out = rulec(&["lineage", "rules/cpg", "cpg_nodes", "--format", "mermaid"]);
    let mermaid = String::from_utf8_lossy(&out.stdout);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(
        mermaid.contains("-->|copy|") && mermaid.contains("-.->|inspect|"),
        "{mermaid}"
    );

    let out = rulec(&["lineage", "rules/cpg"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("inputs no rule reads:\n"), "{text}");

    for (args, message) in [
        (
            vec!["lineage", "rules/cpg", "nope"],
            "neither a rule nor an input",
        ),
        (
            vec!["lineage", "rules/cpg", "cpg_nodes.nope"],
            "has no column `nope`",
        ),
        (vec!["lineage", "rules/cpg", "cpg_nodes..x"], "empty name"),
    ] {
        let out = rulec(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every Parquet scan of a physical plan: file name → the columns it reads.
fn scans(plan: &Arc<dyn ExecutionPlan>, out: &mut BTreeMap<String, BTreeSet<String>>) {
    if let Some(exec) = plan.downcast_ref::<DataSourceExec>()
        && let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>()
    {
        for group in &config.file_groups {
            for file in group.files() {
                let name = file
                    .object_meta
                    .location
                    .filename()
                    .unwrap_or_default()
                    .to_owned();
                let columns: Vec<String> = exec
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                // A table read twice (a self-join) reads the union of both scans' columns.
                out.entry(name).or_default().extend(columns);
            }
        }
    }
    for child in plan.children() {
        scans(child, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_read_only_the_columns_lineage_requires() {
    let (checked, whole) = assert_scans_read_what_lineage_requires(&root().join("rules/cpg")).await;
    assert!(checked >= 4, "only {checked} scans checked");
    assert_eq!(
        whole,
        Vec::<String>::new(),
        "no CPG rule needs a whole input"
    );
}

/// The TPC-H queries, on Parquet files of the tables generated in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_scans_read_only_the_columns_lineage_requires() {
    let pack_dir = crate::support::scratch("lineage-tpch-scans").join("tpch");
    crate::support::tpch_pack_with_data(&pack_dir);
    let (checked, whole) = assert_scans_read_what_lineage_requires(&pack_dir).await;
    assert!(checked >= 50, "only {checked} scans checked");
    // q02 shows every column of its suppliers; no other query needs a whole table.
    assert_eq!(whole, ["q02: supplier"]);
}

/// Each rule of the pack at `pack_dir` that reads only inputs: its consumed Substrait
/// plan's Parquet scans read exactly the columns lineage says it needs of each input.
/// Returns how many scans were checked, and the scans that need every column (`rule:
/// table`).
async fn assert_scans_read_what_lineage_requires(
    pack_dir: &std::path::Path,
) -> (usize, Vec<String>) {
    let (pack, compiled) = compile(pack_dir);
    let lineage = PackLineage::build(&pack, &compiled);
    let ctx = session_with_inputs(&pack, pack_dir).await;
    let mut checked = 0;
    let mut whole = Vec::new();
    for rule in pack.rules.iter().filter(|r| r.upstream_rules.is_empty()) {
        let plan = compiled
            .rule(&rule.name)
            .and_then(|c| c.plan.as_ref())
            .expect("plan");
        let substrait = rulec_substrait::to_substrait(plan).expect("encodes");
        let consumed = rulec_substrait::from_substrait(&ctx.state(), &substrait)
            .await
            .expect("consumes");
        let physical = ctx
            .state()
            .create_physical_plan(&consumed)
            .await
            .expect("physical plan");
        let mut read = BTreeMap::new();
        scans(&physical, &mut read);
        assert!(!read.is_empty(), "{}: no scan found", rule.name);
        for table in &rule.upstream_inputs {
            let file = std::path::Path::new(&pack.manifest.inputs[table])
                .file_name()
                .expect("file")
                .to_string_lossy()
                .into_owned();
            let required = lineage.scanned_columns(&rule.name, table);
            assert_eq!(
                read.get(&file),
                Some(&required),
                "{}: scan of {table}",
                rule.name
            );
            let all = pack.contracts[table].schema.fields().len();
            if required.len() == all {
                whole.push(format!("{}: {table}", rule.name));
            }
            checked += 1;
        }
    }
    (checked, whole)
}
