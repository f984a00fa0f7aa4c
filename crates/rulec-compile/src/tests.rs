//! Unit tests of `rulec-compile`.

use crate::{PINNED_DESCRIPTION_HASH, PIPELINE_VERSION, Pipeline, compile_pack};
use rulec_diagnostics::codes;
use rulec_pack::{PackFiles, load_pack};

fn compile(rules: &[(&str, &str)]) -> crate::CompiledPack {
    let mut files = vec![
        ("pack.yaml".to_owned(), b"name: t\ninputs:\n  src: data/src.parquet\n".to_vec()),
        (
            "contracts/src.yaml".to_owned(),
            b"table: src\ncolumns:\n  - {name: id, type: int64}\n  - {name: name, type: utf8}\n  - {name: items, type: \"list<struct<k: utf8, v: int32>>\"}\n".to_vec(),
        ),
    ];
    files.extend(
        rules
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec())),
    );
    let (pack, diags) = load_pack(&PackFiles::from_memory("mem", files));
    assert!(diags.is_empty(), "{diags:?}");
    compile_pack(&pack.expect("pack"))
}

#[test]
fn the_pipeline_is_pinned() {
    let pipeline = Pipeline::new();
    assert_eq!(
        pipeline.description_hash(),
        PINNED_DESCRIPTION_HASH,
        "the canonical pipeline changed: bump PIPELINE_VERSION (now {PIPELINE_VERSION}) and re-pin PINNED_DESCRIPTION_HASH. Description:\n{}",
        pipeline.description().join("\n")
    );
}

#[test]
fn rules_plan_against_contracts_and_upstream_rules() {
    let pack = compile(&[
        (
            "a.sql",
            "SELECT id, upper(name) AS name FROM src WHERE id > 1",
        ),
        ("b.sql", "SELECT name, count(*) AS n FROM a GROUP BY name"),
    ]);
    let b = pack.rule("b").expect("b");
    assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
    let schema = b.output_schema.as_ref().expect("schema");
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().to_string()))
        .collect();
    assert_eq!(
        fields,
        [("name", "Utf8".to_owned()), ("n", "Int64".to_owned())]
    );
    assert!(
        b.fingerprint
            .as_deref()
            .is_some_and(|f| f.starts_with("sha256:"))
    );
}

#[test]
fn fingerprints_are_stable_and_sensitive() {
    let one = compile(&[("a.sql", "SELECT id FROM src WHERE id > 1")]);
    let same = compile(&[("a.sql", "select  id\nfrom SRC -- comment\nwhere id > 1")]);
    let other = compile(&[("a.sql", "SELECT id FROM src WHERE id > 2")]);
    let fp = |p: &crate::CompiledPack| p.rule("a").and_then(|r| r.fingerprint.clone()).expect("fp");
    assert_eq!(fp(&one), fp(&same));
    assert_ne!(fp(&one), fp(&other));
}

#[test]
fn now_is_not_folded() {
    let pack = compile(&[("a.sql", "SELECT id, now() AS t FROM src")]);
    let plan = pack.rule("a").and_then(|r| r.plan.as_ref()).expect("plan");
    assert!(
        plan.display_indent().to_string().contains("now()"),
        "{}",
        plan.display_indent()
    );
}

#[test]
fn planning_errors_have_codes_and_spans() {
    let pack = compile(&[
        ("a.sql", "SELECT idd FROM src"),
        ("b.sql", "SELECT * FROM a"),
        ("c.sql", "SELECT * FROM srcc"),
    ]);
    let a = &pack.rule("a").expect("a").diagnostics[0];
    assert_eq!(a.code, codes::UNKNOWN_COLUMN);
    assert_eq!(a.span.map(|s| (s.start.line, s.start.column)), Some((1, 8)));
    let b = &pack.rule("b").expect("b").diagnostics[0];
    assert_eq!(b.code, codes::UPSTREAM_FAILED);
    let c = &pack.rule("c").expect("c").diagnostics[0];
    assert_eq!(c.code, codes::UNKNOWN_TABLE);
    assert_eq!(c.help.as_deref(), Some("did you mean `src`?"));
}

#[test]
fn unnest_rules_plan() {
    let pack = compile(&[(
        "a.sql",
        "SELECT id, item.k AS k FROM (SELECT id, unnest(items) AS item FROM src)",
    )]);
    let a = pack.rule("a").expect("a");
    assert!(a.diagnostics.is_empty(), "{:?}", a.diagnostics);
    assert!(
        a.plan
            .as_ref()
            .expect("plan")
            .display_indent()
            .to_string()
            .contains("Unnest")
    );
}

#[test]
fn results_do_not_depend_on_the_number_of_planning_threads() {
    let files = vec![
        ("pack.yaml".to_owned(), b"name: t\n".to_vec()),
        (
            "contracts/src.yaml".to_owned(),
            b"table: src\ncolumns:\n  - {name: id, type: int64}\n  - {name: name, type: utf8}\n"
                .to_vec(),
        ),
        ("a.sql".to_owned(), b"SELECT id FROM src".to_vec()),
        (
            "b.sql".to_owned(),
            b"SELECT name FROM src WHERE id > 1".to_vec(),
        ),
        (
            "c.sql".to_owned(),
            b"SELECT a.id, b.name FROM a JOIN b ON a.id = length(b.name)".to_vec(),
        ),
        ("d.sql".to_owned(), b"SELECT idd FROM src".to_vec()),
        ("e.sql".to_owned(), b"SELECT * FROM d".to_vec()),
    ];
    let (pack, _) = load_pack(&PackFiles::from_memory("mem", files));
    let pack = pack.expect("pack");
    let summary = |p: &crate::CompiledPack| {
        p.rules
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.fingerprint.clone(),
                    r.diagnostics
                        .iter()
                        .map(|d| d.code.code)
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    let one = crate::compile_pack_with(&pack, 1);
    let four = crate::compile_pack_with(&pack, 4);
    assert_eq!(summary(&one), summary(&four));
    assert_eq!(one.rules.len(), 5);
    assert!(one.rule("c").and_then(|r| r.fingerprint.as_ref()).is_some());
    assert_eq!(
        one.rule("e").map(|r| r.diagnostics[0].code),
        Some(rulec_diagnostics::codes::UPSTREAM_FAILED)
    );
}

#[test]
fn operator_type_errors_point_at_the_expression_and_name_operator_and_types() {
    for (text, op, at) in [
        ("SELECT id FROM src\nWHERE name + 1 > 2", "+", (2, 7, 2, 15)),
        (
            "SELECT s.id FROM src AS s\nJOIN src AS t ON s.id = t.id AND t.name - s.id > 0",
            "-",
            (2, 34, 2, 47),
        ),
        (
            "SELECT name, count(*) AS n FROM src GROUP BY name\nHAVING name * 2 > 1",
            "*",
            (2, 8, 2, 16),
        ),
    ] {
        let pack = compile(&[("a.sql", text)]);
        let rule = pack.rule("a").expect("a");
        let [d] = rule.diagnostics.as_slice() else {
            panic!("{text}: {:?}", rule.diagnostics);
        };
        assert_eq!(d.code, codes::TYPE_MISMATCH, "{text}");
        assert!(
            d.message.contains(&format!("`{op}`"))
                && d.message.contains("Utf8")
                && d.message.contains("Int64"),
            "{text}: {}",
            d.message
        );
        let span = d.span.expect("a span");
        assert_eq!(
            (
                span.start.line,
                span.start.column,
                span.end.line,
                span.end.column
            ),
            at,
            "{text}"
        );
    }
}

#[test]
fn a_panic_while_planning_a_rule_is_a_finding_on_that_rule() {
    /// A memo whose per-rule check panics on rule `a`, as a planner bug would.
    struct PanicsOnA;
    impl crate::RuleMemo for PanicsOnA {
        fn lookup(&self, _key: &str) -> Option<crate::CompiledRule> {
            None
        }
        fn finish(&self, _pack: &rulec_pack::Pack, rule: &mut crate::CompiledRule) {
            assert!(rule.name != "a", "boom in {}", rule.name);
        }
    }
    let files = vec![
        (
            "pack.yaml".to_owned(),
            b"name: t\ninputs:\n  src: data/src.parquet\n".to_vec(),
        ),
        (
            "contracts/src.yaml".to_owned(),
            b"table: src\ncolumns:\n  - {name: id, type: int64}\n".to_vec(),
        ),
        ("a.sql".to_owned(), b"SELECT id FROM src".to_vec()),
        ("b.sql".to_owned(), b"SELECT id FROM a".to_vec()),
        ("c.sql".to_owned(), b"SELECT id FROM src".to_vec()),
    ];
    let (pack, _) = load_pack(&PackFiles::from_memory("mem", files));
    let compiled = crate::compile_pack_memo(&pack.expect("pack"), 2, &PanicsOnA);
    let a = compiled.rule("a").expect("a");
    assert_eq!(a.diagnostics.len(), 1);
    assert_eq!(a.diagnostics[0].code, codes::INTERNAL_ERROR);
    assert!(
        a.diagnostics[0].message.contains("boom in a"),
        "{:?}",
        a.diagnostics
    );
    assert!(a.output_schema.is_none());
    // Its reader is skipped as for any failed upstream; other rules are checked.
    assert_eq!(
        compiled.rule("b").expect("b").diagnostics[0].code,
        codes::UPSTREAM_FAILED
    );
    assert!(compiled.rule("c").expect("c").fingerprint.is_some());
}
