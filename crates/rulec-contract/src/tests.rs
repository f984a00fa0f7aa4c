//! Unit tests of `rulec-contract`.

use crate::{parse_contract, parse_type, render_type, schema_fingerprint};
use arrow_schema::DataType;
use rulec_diagnostics::codes;

#[test]
fn nested_types_map_to_arrow_and_render_back() {
    for text in [
        "int64",
        "decimal(15, 2)",
        "timestamp(us, UTC)",
        "list<struct<cst_id: int64, kind: utf8, span: struct<start: struct<line0: int32, col: int32>, end: struct<line0: int32, col: int32>>, attrs: map<utf8, utf8>>>",
        "large_list<utf8 not null>",
        "map<utf8, list<int32>>",
        "struct<\"odd name\": bool not null>",
    ] {
        let ty = parse_type(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let rendered = render_type(&ty);
        assert_eq!(
            parse_type(&rendered).as_ref(),
            Ok(&ty),
            "{text} -> {rendered}"
        );
    }
    assert_eq!(parse_type("decimal(40,2)"), Ok(DataType::Decimal256(40, 2)));
}

#[test]
fn bad_types_say_why() {
    assert!(
        parse_type("int65")
            .unwrap_err()
            .contains("unknown type `int65`")
    );
    assert!(parse_type("decimal(15").unwrap_err().contains("cut off"));
    assert!(
        parse_type("list<int32")
            .unwrap_err()
            .contains("expected `>`")
    );
    assert!(
        parse_type("struct<a: int32, a: utf8>")
            .unwrap_err()
            .contains("twice")
    );
    assert!(
        parse_type("decimal(5, 9)")
            .unwrap_err()
            .contains("larger than")
    );
}

#[test]
fn contract_loads_with_fingerprint() {
    let c = parse_contract(
        "contracts/t.yaml",
        "table: t\ncolumns:\n  - {name: a, type: int64, nullable: false}\n  - {name: b, type: \"decimal(15,2)\"}\nmetadata: {owner: x}\n",
    )
    .expect("valid");
    assert_eq!(c.table, "t");
    assert!(!c.schema.field(0).is_nullable());
    assert!(c.schema.field(1).is_nullable());
    assert!(c.fingerprint.starts_with("sha256:") && c.fingerprint.len() == 71);
    let mut other_meta = c.metadata.clone();
    other_meta.insert("owner".into(), "y".into());
    assert_ne!(schema_fingerprint(&c.schema, &other_meta), c.fingerprint);
}

#[test]
fn unquoted_split_type_is_explained() {
    let errs = parse_contract(
        "c.yaml",
        "table: t\ncolumns:\n  - {name: b, type: decimal(15,2)}\n",
    )
    .expect_err("split by YAML");
    assert_eq!(errs[0].code, codes::MALFORMED_CONTRACT);
    assert!(
        errs[0].help.as_deref().unwrap_or("").contains("quote"),
        "{errs:?}"
    );
    assert_eq!(errs[0].span.map(|s| s.start.line), Some(3));
}

#[test]
fn contract_errors_point_at_yaml_positions() {
    let errs = parse_contract(
        "c.yaml",
        "table: t\ncolumns:\n  - {name: a, type: int64}\n  - {name: a, type: utf8}\n  - {name: c, type: int99}\n",
    )
    .expect_err("two errors");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0].code, codes::DUPLICATE_COLUMN);
    assert_eq!(
        errs[0].span.map(|s| (s.start.line, s.start.column)),
        Some((4, 12))
    );
    assert_eq!(errs[0].labels[0].span.start.line, 3);
    assert_eq!(errs[1].code, codes::UNKNOWN_TYPE);
    assert_eq!(
        errs[1].span.map(|s| (s.start.line, s.start.column)),
        Some((5, 21))
    );
    let empty = parse_contract("c.yaml", "table: ''\ncolumns: []\n").expect_err("empty");
    assert_eq!(empty.len(), 2);
}
