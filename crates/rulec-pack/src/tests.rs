//! Unit tests of `rulec-pack`.

use crate::{PackFiles, load_pack};
use rulec_diagnostics::codes;

fn pack(files: &[(&str, &str)]) -> PackFiles {
    PackFiles::from_memory(
        "mem",
        files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec())),
    )
}

const MANIFEST: &str = "name: t\ninputs:\n  src: data/src.parquet\n";
const CONTRACT: &str = "table: src\ncolumns:\n  - {name: a, type: int64}\n";

#[test]
fn rules_come_in_dependency_order() {
    let files = pack(&[
        ("pack.yaml", MANIFEST),
        ("contracts/src.yaml", CONTRACT),
        ("a.sql", "SELECT * FROM c"),
        ("sub/b.sql", "SELECT a FROM src"),
        ("c.sql", "SELECT a FROM b"),
    ]);
    let (pack, diags) = load_pack(&files);
    assert!(diags.is_empty(), "{diags:?}");
    let pack = pack.expect("pack");
    let order: Vec<_> = pack.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(order, ["b", "c", "a"]);
    assert_eq!(pack.rule("b").expect("b").upstream_inputs, ["src"]);
    assert_eq!(pack.rule("b").expect("b").file, "sub/b.sql");
}

#[test]
fn a_cycle_names_every_rule_in_it() {
    let files = pack(&[
        ("pack.yaml", MANIFEST),
        ("contracts/src.yaml", CONTRACT),
        ("a.sql", "SELECT * FROM b"),
        ("b.sql", "SELECT * FROM c"),
        ("c.sql", "SELECT * FROM a"),
        ("d.sql", "SELECT * FROM d"),
        ("e.sql", "SELECT * FROM src"),
    ]);
    let (pack, diags) = load_pack(&files);
    let pack = pack.expect("pack");
    let cycles: Vec<_> = diags
        .iter()
        .filter(|d| d.code == codes::RULE_CYCLE)
        .collect();
    assert_eq!(cycles.len(), 2, "{diags:?}");
    assert!(
        cycles[0].message.contains("a -> b -> c -> a"),
        "{}",
        cycles[0].message
    );
    assert_eq!(
        cycles[0].span.map(|s| (s.start.line, s.start.column)),
        Some((1, 15))
    );
    assert!(cycles[1].message.contains("d -> d"));
    assert!(pack.rule("a").expect("a").in_cycle);
    assert!(!pack.rule("e").expect("e").in_cycle);
    assert_eq!(pack.rules[0].name, "e");
}

#[test]
fn duplicate_rules_and_missing_contracts_are_reported() {
    let files = pack(&[
        ("pack.yaml", "name: t\ninputs:\n  src: x\n  other: y\n"),
        ("contracts/src.yaml", CONTRACT),
        ("a.sql", "SELECT 1"),
        ("x/a.sql", "SELECT 2"),
    ]);
    let (_, diags) = load_pack(&files);
    let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
    assert!(codes.contains(&codes::DUPLICATE_RULE), "{diags:?}");
    let missing = diags
        .iter()
        .find(|d| d.code == codes::INPUT_WITHOUT_CONTRACT)
        .expect("missing contract");
    assert_eq!(missing.span.map(|s| s.start.line), Some(4));
}

#[test]
fn output_contracts_are_told_apart() {
    let files = pack(&[
        ("pack.yaml", MANIFEST),
        ("contracts/src.yaml", CONTRACT),
        (
            "contracts/a.yaml",
            "table: a\ncolumns:\n  - {name: a, type: int64}\n",
        ),
        ("a.sql", "SELECT a FROM src"),
    ]);
    let (pack, diags) = load_pack(&files);
    assert!(diags.is_empty(), "{diags:?}");
    let pack = pack.expect("pack");
    assert!(pack.contracts.contains_key("src"));
    assert!(pack.output_contracts.contains_key("a"));
}

#[test]
fn missing_manifest_is_an_error() {
    let (pack, diags) = load_pack(&pack(&[("a.sql", "SELECT 1")]));
    assert!(pack.is_none());
    assert_eq!(diags[0].code, codes::MALFORMED_PACK);
}

#[test]
fn product_settings_for_no_rule_are_an_error_at_their_line() {
    let manifest = format!(
        "{MANIFEST}products:\n  clean_events:\n    order_by: [a]\n  src:\n    slices: 2\n  zzz:\n    slices: 2\n"
    );
    let files = pack(&[
        ("pack.yaml", manifest.as_str()),
        ("contracts/src.yaml", CONTRACT),
        ("clean_event.sql", "SELECT a FROM src"),
    ]);
    let (_, diags) = load_pack(&files);
    let unknown: Vec<_> = diags
        .iter()
        .filter(|d| d.code == codes::MALFORMED_PACK)
        .map(|d| {
            (
                d.message.as_str(),
                d.span.map(|s| (s.start.line, s.start.column)),
                d.help.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        unknown,
        [
            (
                "`products:` has settings for `clean_events`, but no rule is named `clean_events`",
                Some((5, 3)),
                "did you mean `clean_event`?",
            ),
            (
                // An input is not a product: the span is its line under `products:`.
                "`products:` has settings for `src`, but no rule is named `src`",
                Some((7, 3)),
                "settings under `products:` are keyed by rule name (the rule file's stem)",
            ),
            (
                "`products:` has settings for `zzz`, but no rule is named `zzz`",
                Some((9, 3)),
                "settings under `products:` are keyed by rule name (the rule file's stem)",
            ),
        ],
        "{diags:?}"
    );
}
