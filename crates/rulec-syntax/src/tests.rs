//! Unit tests of `rulec-syntax`.

use crate::{SqlDialect, parse_rule};
use rulec_diagnostics::{Span, codes};

fn parse(text: &str) -> Result<crate::ParsedRule, Vec<rulec_diagnostics::Diagnostic>> {
    parse_rule("r.sql", text, SqlDialect::DataFusion)
}

#[test]
fn table_refs_exclude_ctes_and_keep_spans() {
    let rule = parse("WITH x AS (SELECT * FROM Files)\nSELECT * FROM x JOIN \"Other\" o ON true JOIN files f ON true")
        .expect("parses");
    let names: Vec<_> = rule.table_refs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["files", "Other"]);
    assert_eq!(rule.table_refs[0].span, Some(Span::new(1, 26, 1, 31)));
    assert_eq!(rule.table_refs[1].span, Some(Span::new(2, 22, 2, 29)));
}

#[test]
fn statements_other_than_queries_are_rejected_with_a_span() {
    for (text, keyword, column) in [
        ("CREATE TABLE t (a INT)", "CREATE TABLE", 1),
        ("  INSERT INTO t VALUES (1)", "INSERT", 3),
        ("COPY t TO 'x.parquet'", "COPY", 1),
        ("SET x = 1", "SET", 1),
        ("EXPLAIN SELECT 1", "EXPLAIN", 1),
        ("DELETE FROM t", "DELETE", 1),
    ] {
        let errs = parse(text).expect_err(text);
        assert_eq!(errs.len(), 1, "{text}: {errs:?}");
        assert_eq!(errs[0].code, codes::FORBIDDEN_STATEMENT, "{text}");
        assert!(
            errs[0].message.contains(keyword),
            "{text}: {}",
            errs[0].message
        );
        assert_eq!(
            errs[0].span.map(|s| (s.start.line, s.start.column)),
            Some((1, column))
        );
    }
}

#[test]
fn two_statements_point_at_the_second() {
    let errs = parse("SELECT 1;\n  SELECT 2").expect_err("two statements");
    assert_eq!(errs[0].code, codes::MULTIPLE_STATEMENTS);
    assert_eq!(
        errs[0].span.map(|s| (s.start.line, s.start.column)),
        Some((2, 3))
    );
}

#[test]
fn parse_errors_carry_the_position() {
    let errs = parse("SELECT a\nFROM t WHERE").expect_err("incomplete");
    assert_eq!(errs[0].code, codes::PARSE_ERROR);
    assert!(errs[0].span.is_some(), "{errs:?}");
    assert!(!errs[0].message.contains("Line:"));
}

#[test]
fn reading_files_by_path_is_rejected() {
    for text in [
        "SELECT * FROM 'data/x.parquet'",
        "SELECT * FROM read_parquet('x.parquet')",
    ] {
        let errs = parse(text).expect_err(text);
        assert_eq!(errs[0].code, codes::FILE_PATH_READ, "{text}");
        assert!(errs[0].span.is_some());
    }
}

#[test]
fn empty_and_comment_only_files_are_rejected() {
    for text in ["", "  -- nothing here\n"] {
        let errs = parse(text).expect_err(text);
        assert_eq!(errs[0].code, codes::EMPTY_RULE);
    }
}

#[test]
fn keywords_are_found_outside_comments_and_strings() {
    let text = "-- IGNORE NULLS here is a comment\nSELECT 'ignore nulls', first_value(x) ignore  nulls OVER () FROM t";
    let span = crate::find_keywords(text, SqlDialect::DataFusion, &["IGNORE", "NULLS"]);
    assert_eq!(span, Some(Span::new(2, 39, 2, 52)));
    assert_eq!(
        crate::find_keywords(text, SqlDialect::DataFusion, &["DISTINCT"]),
        None
    );
}
