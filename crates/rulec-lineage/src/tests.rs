//! Unit tests: paths, overlap, edge kinds.

use crate::EdgeKind;
use crate::path::{ColumnRef, Step};

#[test]
fn paths_parse_and_print() {
    let (table, column) = ColumnRef::parse("libcst_files.nodes[*].span.\"end\".line0").unwrap();
    assert_eq!(table, "libcst_files");
    let column = column.unwrap();
    assert_eq!(column.column, "nodes");
    assert_eq!(
        column.steps,
        vec![
            Step::Each,
            Step::Field("span".into()),
            Step::Field("end".into()),
            Step::Field("line0".into())
        ]
    );
    assert_eq!(column.to_string(), "libcst_files.nodes[*].span.end.line0");
    assert_eq!(ColumnRef::parse("t").unwrap(), ("t".to_owned(), None));
    assert_eq!(
        ColumnRef::new("t", "a b").to_string(),
        "t.\"a b\"",
        "names that are not identifiers are quoted"
    );
    for bad in ["", "t.", "t[*]", "t.c[1]", "t.\"c", "t..c"] {
        assert!(ColumnRef::parse(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn overlap_is_prefix_either_way() {
    let nodes = ColumnRef::new("f", "nodes");
    let kind = nodes.nested(&[Step::Each, Step::Field("kind".into())]);
    let span = nodes.nested(&[Step::Each, Step::Field("span".into())]);
    assert!(nodes.overlaps(&kind) && kind.overlaps(&nodes));
    assert!(!kind.overlaps(&span));
    assert!(!nodes.overlaps(&ColumnRef::new("f", "path")));
    assert!(!nodes.overlaps(&ColumnRef::new("g", "nodes")));
}

#[test]
fn kinds_merge_and_compose() {
    use EdgeKind::*;
    assert_eq!(Copy.merge(Inspect), Copy);
    assert_eq!(Inspect.merge(Transform), Transform);
    assert_eq!(Copy.merge(Transform), Transform);
    assert_eq!(Copy.compose(Copy), Copy);
    assert_eq!(Copy.compose(Transform), Transform);
    assert_eq!(Transform.compose(Inspect), Inspect);
    assert_eq!(Inspect.compose(Copy), Inspect);
}
