//! Unit tests of `rulec-substrait`.

use crate::{decode, encode, from_substrait, plan_to_text, to_substrait};
use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::SessionStateBuilder;
use rulec_compile::compile_pack;
use rulec_pack::{PackFiles, load_pack};
use std::sync::Arc;

const CONTRACT: &str = "table: src\ncolumns:\n  - {name: id, type: int64}\n  - {name: name, type: utf8}\n  - {name: items, type: \"list<struct<k: utf8, v: int32, sub: list<int64>>>\"}\n";

fn compile(
    sql: &str,
) -> (
    datafusion::logical_expr::LogicalPlan,
    datafusion::execution::SessionState,
) {
    let files = vec![
        ("pack.yaml".to_owned(), b"name: t\n".to_vec()),
        (
            "contracts/src.yaml".to_owned(),
            CONTRACT.as_bytes().to_vec(),
        ),
        ("a.sql".to_owned(), sql.as_bytes().to_vec()),
    ];
    let (pack, diags) = load_pack(&PackFiles::from_memory("mem", files));
    assert!(diags.is_empty(), "{diags:?}");
    let pack = pack.expect("pack");
    let compiled = compile_pack(&pack);
    let rule = compiled.rule("a").expect("a");
    assert!(rule.diagnostics.is_empty(), "{:?}", rule.diagnostics);
    let state = SessionStateBuilder::new().with_default_features().build();
    let ctx = datafusion::prelude::SessionContext::new_with_state(state);
    ctx.register_table(
        "src",
        Arc::new(EmptyTable::new(Arc::clone(&pack.contracts["src"].schema))),
    )
    .expect("register");
    (rule.plan.clone().expect("plan"), ctx.state())
}

async fn round_trip(
    sql: &str,
) -> (
    datafusion::logical_expr::LogicalPlan,
    datafusion::logical_expr::LogicalPlan,
    String,
) {
    let (plan, state) = compile(sql);
    let substrait = to_substrait(&plan).expect("encodes");
    let text = plan_to_text(&substrait);
    let bytes = encode(&substrait);
    let back = from_substrait(&state, &decode(&bytes).expect("decodes"))
        .await
        .expect("consumes");
    (plan, back, text)
}

fn same_shape(
    a: &datafusion::logical_expr::LogicalPlan,
    b: &datafusion::logical_expr::LogicalPlan,
) {
    let fa: Vec<_> = a
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let fb: Vec<_> = b
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(fa, fb);
}

#[tokio::test]
async fn unnest_round_trips_through_the_extension() {
    let (plan, back, text) = round_trip(
        "SELECT id, item.k AS k, item.v AS v FROM (SELECT id, unnest(items) AS item FROM src) WHERE item.v > 1",
    )
    .await;
    assert!(text.contains("rulec.dev/extension/Unnest"), "{text}");
    same_shape(&plan, &back);
    assert!(
        back.display_indent().to_string().contains("Unnest"),
        "{}",
        back.display_indent()
    );
}

#[tokio::test]
async fn two_level_unnest_round_trips() {
    let (plan, back, _) = round_trip(
        "SELECT id, s AS s FROM (SELECT id, unnest(item.sub) AS s FROM (SELECT id, unnest(items) AS item FROM src))",
    )
    .await;
    same_shape(&plan, &back);
}

#[tokio::test]
async fn using_joins_are_encoded_as_on() {
    let (plan, back, _) = round_trip("SELECT a.id, b.name FROM src a JOIN src b USING (id)").await;
    same_shape(&plan, &back);
}

#[test]
fn unfaithful_constructs_are_refused() {
    for (sql, needle) in [
        (
            "SELECT first_value(name) IGNORE NULLS OVER (ORDER BY id) AS f FROM src",
            "IGNORE NULLS",
        ),
        (
            "SELECT count(DISTINCT name) OVER (PARTITION BY id) AS f FROM src",
            "DISTINCT",
        ),
        (
            "SELECT first_value(name) IGNORE NULLS AS f FROM src",
            "IGNORE NULLS",
        ),
    ] {
        let (plan, _) = compile(sql);
        let err = to_substrait(&plan).expect_err(sql).to_string();
        assert!(err.contains(needle), "{sql}: {err}");
    }
}

#[test]
fn unknown_payload_versions_are_rejected() {
    let err = crate::unnest::UnnestPayload::from_bytes(
        br#"{"version":9,"columns":[0],"recursions":[],"null_handling":"preserve"}"#,
    )
    .expect_err("version 9");
    assert!(err.contains("version 9"), "{err}");
}
