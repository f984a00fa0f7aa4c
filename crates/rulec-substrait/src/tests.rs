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

/// The plan's function declarations, as `urn name` lines.
fn declarations(plan: &datafusion_substrait::substrait::proto::Plan) -> Vec<String> {
    use datafusion_substrait::substrait::proto::extensions::simple_extension_declaration::MappingType;
    let urns: std::collections::BTreeMap<u32, &str> = plan
        .extension_urns
        .iter()
        .map(|u| (u.extension_urn_anchor, u.urn.as_str()))
        .collect();
    plan.extensions
        .iter()
        .filter_map(|d| match &d.mapping_type {
            Some(MappingType::ExtensionFunction(f)) => Some(format!(
                "{} {}",
                urns.get(&f.extension_urn_reference)
                    .expect("a declared URN"),
                f.name
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn functions_are_declared_under_standard_extensions_by_signature() {
    let sql = "SELECT id + 1 AS a, name || 'x' AS b, concat(name, 'y') AS c, count(*) AS n, \
               sum(id) AS s FROM src WHERE name LIKE 'a%' AND id BETWEEN 1 AND 9 GROUP BY id, name";
    let (plan, _) = compile(sql);
    let substrait = to_substrait(&plan).expect("encodes");
    let declared = declarations(&substrait);
    for expected in [
        "extension:io.substrait:functions_arithmetic add:i64_i64",
        "extension:io.substrait:functions_arithmetic sum:i64",
        "extension:io.substrait:functions_aggregate_generic count:any",
        "extension:io.substrait:functions_boolean and:bool",
        "extension:io.substrait:functions_comparison gte:any_any",
        "extension:io.substrait:functions_comparison lte:any_any",
        "extension:io.substrait:functions_string like:str_str",
        // `||` is the standard concat; DataFusion's concat() skips nulls: rulec's.
        "extension:io.substrait:functions_string concat:str",
        "extension:dev.rulec:functions concat:any",
    ] {
        assert!(
            declared.contains(&expected.to_owned()),
            "{expected} not in {declared:#?}"
        );
    }
    // Each declared once, anchors from 1, every URN declared once.
    let unique: std::collections::BTreeSet<&String> = declared.iter().collect();
    assert_eq!(unique.len(), declared.len(), "{declared:#?}");
    assert!(
        substrait
            .extension_urns
            .iter()
            .all(|u| u.extension_urn_anchor > 0)
    );
    // And the plan reads back as the same plan.
    let (plan, back, _) = round_trip(sql).await;
    same_shape(&plan, &back);
    assert_eq!(
        plan.display_indent().to_string().matches("concat").count(),
        back.display_indent().to_string().matches("concat").count()
    );
}

#[test]
fn functions_without_a_standard_signature_are_rulecs() {
    use crate::functions::{RULEC_URN, declare};
    // No standard `add` takes a string; DataFusion's `get_field` has no standard twin.
    let add = declare("add", &[Some("str".to_owned()), Some("i64".to_owned())]);
    assert_eq!(
        (add.urn.as_str(), add.name.as_str()),
        (RULEC_URN, "add:any")
    );
    let get_field = declare(
        "get_field",
        &[Some("struct".to_owned()), Some("str".to_owned())],
    );
    assert_eq!(get_field.name, "get_field:any");
    // A decimal sum is the decimal extension's; an unknown argument type matches `any` only.
    let sum = declare("sum", &[Some("dec".to_owned())]);
    assert_eq!(
        sum.urn,
        "extension:io.substrait:functions_arithmetic_decimal"
    );
    assert_eq!(sum.name, "sum:dec");
    assert_eq!(declare("equal", &[None, None]).name, "equal:any_any");
    assert_eq!(declare("not", &[None]).urn, RULEC_URN);
}

#[test]
fn plans_with_foreign_extensions_are_refused() {
    use crate::functions::datafusion_name;
    assert_eq!(datafusion_name(None, "equal").as_deref(), Ok("equal"));
    assert_eq!(
        datafusion_name(
            Some("extension:io.substrait:functions_string"),
            "concat:str"
        )
        .as_deref(),
        Ok("str_concat")
    );
    assert_eq!(
        datafusion_name(Some(crate::functions::RULEC_URN), "concat:any").as_deref(),
        Ok("concat")
    );
    let err =
        datafusion_name(Some("extension:com.example:magic"), "add:i64_i64").expect_err("foreign");
    assert!(err.contains("extension:com.example:magic"), "{err}");
}

/// rulec's extension YAML lists every function of the registry (rust-analyzer's sourcegen
/// convention: the test rewrites the file when it is stale, and fails once).
#[test]
fn the_rulec_extension_yaml_is_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("extensions/functions_rulec.yaml");
    let wanted = crate::functions::rulec_extension_yaml();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != wanted {
        std::fs::write(&path, &wanted).expect("write the extension YAML");
        panic!(
            "{} was stale and has been rewritten: run the tests again",
            path.display()
        );
    }
    assert!(wanted.contains("  - name: \"get_field\""));
    assert!(wanted.contains("urn: extension:dev.rulec:functions"));
}

/// The fields of Substrait before URNs (0.75), as consumers of those versions read them.
mod legacy {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Plan {
        #[prost(message, repeated, tag = "1")]
        pub uris: Vec<Uri>,
        #[prost(message, repeated, tag = "2")]
        pub extensions: Vec<Declaration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Uri {
        #[prost(uint32, tag = "1")]
        pub anchor: u32,
        #[prost(string, tag = "2")]
        pub uri: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Declaration {
        #[prost(message, optional, tag = "3")]
        pub function: Option<Function>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint32, tag = "1")]
        pub uri_reference: u32,
        #[prost(uint32, tag = "2")]
        pub anchor: u32,
        #[prost(string, tag = "3")]
        pub name: String,
    }
}

#[test]
fn encoded_plans_declare_extensions_by_uri_too() {
    use prost::Message as _;
    let (plan, _) = compile("SELECT id + 1 AS a, concat(name, 'y') AS c FROM src WHERE id > 2");
    let substrait = to_substrait(&plan).expect("encodes");
    let bytes = encode(&substrait);
    // A consumer of today's Substrait reads the plan as it was made: the URIs are dropped.
    assert_eq!(decode(&bytes).expect("decodes"), substrait);
    // One of Substrait before URNs reads every function's extension by URI.
    let old = legacy::Plan::decode(bytes.as_slice()).expect("decodes as a legacy plan");
    let uris: std::collections::BTreeMap<u32, &str> = old
        .uris
        .iter()
        .map(|u| (u.anchor, u.uri.as_str()))
        .collect();
    let functions: Vec<(&str, &str)> = old
        .extensions
        .iter()
        .filter_map(|d| d.function.as_ref())
        .map(|f| (uris[&f.uri_reference], f.name.as_str()))
        .collect();
    assert_eq!(functions.len(), declarations(&substrait).len());
    for expected in [
        (
            "https://github.com/substrait-io/substrait/blob/main/extensions/functions_arithmetic.yaml",
            "add:i64_i64",
        ),
        (
            "https://github.com/substrait-io/substrait/blob/main/extensions/functions_comparison.yaml",
            // `id > 2` is `id >= 3` in canonical form.
            "gte:any_any",
        ),
        (
            "https://rulec.dev/extensions/functions_rulec.yaml",
            "concat:any",
        ),
    ] {
        assert!(
            functions.contains(&expected),
            "{expected:?} not in {functions:#?}"
        );
    }
}
