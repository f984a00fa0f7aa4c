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

// ---- lateral unnest ---------------------------------------------------------------------

fn rewritten(text: &str) -> String {
    parse(text)
        .unwrap_or_else(|d| panic!("{text}: {d:?}"))
        .statement
        .to_string()
}

#[test]
fn lateral_unnest_becomes_a_select_list_unnest_of_its_table() {
    let expected = "SELECT t.a, t.x FROM (SELECT t.*, unnest(t.l) AS x FROM t) AS t WHERE t.x > 1";
    for text in [
        "SELECT t.a, u.x FROM t CROSS JOIN unnest(t.l) AS u(x) WHERE u.x > 1",
        "SELECT t.a, u.x FROM t, unnest(t.l) AS u(x) WHERE u.x > 1",
        "SELECT t.a, u.x FROM t JOIN unnest(t.l) AS u(x) ON TRUE WHERE u.x > 1",
        "SELECT t.a, u.x FROM t CROSS JOIN LATERAL unnest(t.l) AS u(x) WHERE u.x > 1",
        "SELECT t.a, u.x FROM t CROSS JOIN LATERAL (SELECT unnest(t.l) AS x) AS u WHERE u.x > 1",
        "SELECT t.a, u.x FROM t, LATERAL (SELECT unnest(t.l) AS x) AS u WHERE u.x > 1",
    ] {
        assert_eq!(rewritten(text), expected, "{text}");
    }
    // An aliased table keeps its alias; an unqualified list of the only table is its own.
    assert_eq!(
        rewritten("SELECT f.id, x FROM files AS f CROSS JOIN unnest(nodes) AS u(x) ORDER BY u.x"),
        "SELECT f.id, x FROM (SELECT f.*, unnest(nodes) AS x FROM files AS f) AS f ORDER BY f.x"
    );
}

#[test]
fn lateral_unnest_over_an_unnest_nests_the_derived_tables() {
    assert_eq!(
        rewritten(
            "SELECT s.file_id, y.symbol.name FROM symtable_files AS s \
             CROSS JOIN unnest(s.blocks) AS b(block) CROSS JOIN unnest(b.block.symbols) AS y(symbol)"
        ),
        "SELECT s.file_id, s.symbol.name FROM (SELECT s.*, unnest(s.block.symbols) AS symbol \
         FROM (SELECT s.*, unnest(s.blocks) AS block FROM symtable_files AS s) AS s) AS s"
    );
}

#[test]
fn lateral_unnest_names_the_element_after_its_alias_or_zips_lists() {
    assert_eq!(
        rewritten("SELECT n.kind, n FROM t CROSS JOIN unnest(t.nodes) AS n"),
        "SELECT t.n.kind, n FROM (SELECT t.*, unnest(t.nodes) AS n FROM t) AS t"
    );
    assert_eq!(
        rewritten("SELECT u.x, u.y FROM t CROSS JOIN unnest(t.a, t.b) AS u(x, y)"),
        "SELECT t.x, t.y FROM (SELECT t.*, unnest(t.a) AS x, unnest(t.b) AS y FROM t) AS t"
    );
    // The table joined to others stays in its place.
    assert_eq!(
        rewritten("SELECT u.x FROM t JOIN s ON s.id = t.id CROSS JOIN unnest(t.l) AS u(x)"),
        "SELECT t.x FROM (SELECT t.*, unnest(t.l) AS x FROM t) AS t JOIN s ON s.id = t.id"
    );
    // Element numbers, from 1 (ORDINALITY) or 0 (OFFSET), zipped with the elements.
    assert_eq!(
        rewritten("SELECT u.x, u.i FROM t CROSS JOIN unnest(t.l) WITH ORDINALITY AS u(x, i)"),
        "SELECT t.x, t.i FROM (SELECT t.*, unnest(t.l) AS x, \
         unnest(range(1, CAST(array_length(t.l) AS BIGINT) + 1)) AS i FROM t) AS t"
    );
    assert_eq!(
        rewritten(
            "SELECT u.x, u.y, u.i FROM t CROSS JOIN unnest(t.a, t.b) WITH ORDINALITY AS u(x, y, i)"
        ),
        "SELECT t.x, t.y, t.i FROM (SELECT t.*, unnest(t.a) AS x, unnest(t.b) AS y, \
         unnest(range(1, CAST(greatest(array_length(t.a), array_length(t.b)) AS BIGINT) + 1)) AS i \
         FROM t) AS t"
    );
    // Rows of NULL and empty lists kept, with one NULL element.
    let kept = "SELECT t.x FROM (SELECT t.*, unnest(CASE WHEN array_length(t.l) > 0 THEN t.l \
                ELSE [NULL] END) AS x FROM t) AS t";
    for text in [
        "SELECT u.x FROM t LEFT JOIN unnest(t.l) AS u(x) ON TRUE",
        "SELECT u.x FROM t LEFT JOIN LATERAL (SELECT unnest(t.l) AS x) AS u ON TRUE",
        "SELECT u.x FROM t OUTER APPLY unnest(t.l) AS u(x)",
    ] {
        assert_eq!(rewritten(text), kept, "{text}");
    }
}

#[test]
fn lateral_unnest_that_cannot_be_rewritten_is_an_error_at_the_unnest() {
    for (text, says) in [
        (
            "SELECT u.x FROM t CROSS JOIN unnest(t.l) WITH ORDINALITY AS u(x)",
            "one for the ordinality",
        ),
        (
            "SELECT u.x FROM t LEFT JOIN unnest(t.l) AS u(x) ON u.x > 1",
            "joined on TRUE",
        ),
        (
            "SELECT u.x FROM t JOIN s ON TRUE CROSS JOIN unnest(l) AS u(x)",
            "does not say which table",
        ),
        (
            "SELECT u.x FROM t LEFT JOIN s ON s.id = t.id CROSS JOIN unnest(s.l) AS u(x)",
            "NULL-padded side",
        ),
        (
            "SELECT u.x FROM t JOIN unnest(t.l) AS u(x) ON u.x > 1",
            "can only be joined on TRUE",
        ),
        (
            "SELECT t.a FROM t CROSS JOIN unnest(t.l) AS t",
            "also the name of a table",
        ),
    ] {
        let errs = parse(text).expect_err(text);
        assert_eq!(errs.len(), 1, "{text}: {errs:?}");
        assert_eq!(errs[0].code, codes::UNSUPPORTED_SQL, "{text}");
        assert!(
            errs[0].message.contains(says),
            "{text}: {}",
            errs[0].message
        );
        assert!(errs[0].help.is_some(), "{text}");
        let span = errs[0].span.expect("a span");
        let unnest_at = text.find("unnest").expect("unnest") + 1;
        assert_eq!(span.start.line, 1, "{text}");
        assert!(
            (span.start.column as usize) <= unnest_at && (span.end.column as usize) > unnest_at,
            "{text}: {span:?}"
        );
    }
}

#[test]
fn unnest_in_the_select_list_and_a_leading_unnest_are_left_alone() {
    let text = "SELECT unnest(l) AS x FROM t";
    assert_eq!(rewritten(text), text);
    assert_eq!(
        rewritten("SELECT x FROM unnest([1, 2]) AS u(x)"),
        "SELECT x FROM UNNEST([1, 2]) AS u (x)"
    );
}

#[test]
fn outline_lists_ctes_outputs_and_relations() {
    let rule = parse_rule(
        "r.sql",
        "WITH n AS (SELECT * FROM libcst_files)\nSELECT f.path, count(*) AS total\nFROM n AS f JOIN scip_symbols s ON f.path = s.symbol GROUP BY f.path",
        SqlDialect::DataFusion,
    )
    .expect("parses");
    let outline = crate::outline(&rule.statement);
    let names = |v: &[crate::Named]| v.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&outline.ctes), ["n"]);
    assert_eq!(outline.ctes[0].span, Some(Span::new(1, 6, 1, 7)));
    assert_eq!(names(&outline.outputs), ["path", "total"]);
    assert_eq!(outline.outputs[1].span, Some(Span::new(2, 28, 2, 33)));
    let relations: Vec<(&str, &str)> = outline
        .relations
        .iter()
        .map(|r| (r.name.as_str(), r.table.as_str()))
        .collect();
    assert_eq!(
        relations,
        [
            ("libcst_files", "libcst_files"),
            ("f", "n"),
            ("s", "scip_symbols")
        ]
    );
}

#[test]
fn dotted_names_and_completion_prefixes_are_read_from_tokens() {
    let text = "SELECT n.Span.start FROM t AS n WHERE n.";
    let name = crate::dotted_name_at(text, SqlDialect::DataFusion, 1, 11).expect("a name");
    assert_eq!(name.parts, ["n", "span", "start"]);
    assert_eq!(name.index, 1);
    assert_eq!(name.spans[2], Span::new(1, 15, 1, 20));
    assert_eq!(
        crate::dotted_name_at(text, SqlDialect::DataFusion, 1, 3).map(|n| n.parts),
        Some(vec!["select".to_owned()])
    );
    // In text that does not parse, after a dot: the qualifiers, nothing typed yet.
    let prefix = crate::completion_prefix(text, SqlDialect::DataFusion, 1, 41);
    assert_eq!(prefix.qualifiers, ["n"]);
    assert_eq!(prefix.partial, "");
    let prefix = crate::completion_prefix(text, SqlDialect::DataFusion, 1, 17);
    assert_eq!(prefix.qualifiers, ["n", "span"]);
    assert_eq!(prefix.partial, "st");
    let prefix = crate::completion_prefix("SELECT ab", SqlDialect::DataFusion, 1, 10);
    assert!(prefix.qualifiers.is_empty());
    assert_eq!(prefix.partial, "ab");
}

#[test]
fn every_embedded_dialect_policy_is_valid() {
    let mut names = Vec::new();
    for (file, text) in crate::dialect::policy_files() {
        let policy =
            crate::dialect::parse_policy(file, text).unwrap_or_else(|d| panic!("{file}: {d:?}"));
        names.push(policy.name);
    }
    assert_eq!(
        names,
        ["datafusion", "duckdb", "postgres", "spark", "trino"]
    );
    assert_eq!(SqlDialect::names(), names);
    assert_eq!(
        SqlDialect::from_name("DuckDB").map(SqlDialect::name),
        Some("duckdb")
    );
    assert_eq!(
        SqlDialect::from_name("generic"),
        Some(SqlDialect::DataFusion)
    );
    assert_eq!(SqlDialect::from_name("oracle"), None);
}

#[test]
fn a_bad_dialect_policy_is_a_coded_error_at_its_line() {
    let base =
        "name: x\nparser: generic\nunparser: duckdb\nidentifiers: lower\nread_rewrites: []\n";
    for (text, line, says) in [
        (
            base.replace("parser: generic", "parser: cobol"),
            2,
            "not a sqlparser dialect",
        ),
        (
            base.replace("unparser: duckdb", "unparser: oracle"),
            3,
            "not one of",
        ),
        (
            base.replace("identifiers: lower", "identifiers: shout"),
            4,
            "not `lower`",
        ),
        (
            base.replace("[]", "[explode_everything]"),
            5,
            "read rewrite `explode_everything`",
        ),
        (
            base.replace("name: x", "name: y"),
            1,
            "its file is `x.yaml`",
        ),
        (format!("{base}emit: []\n"), 6, "unknown field `emit`"),
        (
            format!("{base}emit_rewrites: [to_cobol]\n"),
            6,
            "emit rewrite `to_cobol`",
        ),
        (
            format!("{base}unsupported:\n  maps: no\n  struct: no\n"),
            7,
            "unsupported construct `maps`",
        ),
    ] {
        let problems = crate::dialect::parse_policy("dialects/x.yaml", &text).expect_err(&text);
        let d = &problems[0];
        assert_eq!(
            d.code,
            rulec_diagnostics::codes::INVALID_DIALECT_POLICY,
            "{text}"
        );
        assert!(d.message.contains(says), "{text}: {}", d.message);
        assert_eq!(d.span.map(|s| s.start.line), Some(line), "{text}: {d:?}");
        assert_eq!(d.file.as_deref(), Some("dialects/x.yaml"));
    }
}

#[test]
fn sparks_array_function_reads_as_a_list() {
    let spark = SqlDialect::from_name("spark").expect("spark");
    let read = |text: &str, dialect| {
        crate::parse_rule("r.sql", text, dialect)
            .map(|p| p.statement.to_string())
            .expect("parses")
    };
    assert_eq!(
        read("SELECT array(1, x), ARRAY(2) FROM t", spark),
        "SELECT make_array(1, x), make_array(2) FROM t"
    );
    // Only Spark's policy rewrites it; elsewhere `array` is whatever the planner makes of it.
    assert_eq!(
        read("SELECT array(1, x) FROM t", SqlDialect::DataFusion),
        "SELECT array(1, x) FROM t"
    );
}

#[test]
fn if_and_iif_read_as_case_in_the_dialects_that_have_them() {
    let in_dialect = |name: &str, text: &str| {
        let dialect = SqlDialect::from_name(name).expect("dialect");
        crate::parse_rule("r.sql", text, dialect)
            .map(|p| p.statement.to_string())
            .expect("parses")
    };
    let text = "SELECT IF(a > 1, 'big', 'small') AS size, IIF(b, 1, 2) AS n FROM t";
    for dialect in ["duckdb", "spark", "trino"] {
        let read = in_dialect(dialect, text);
        assert!(
            read.contains("CASE WHEN a > 1 THEN 'big' ELSE 'small' END")
                && read.contains("CASE WHEN b THEN 1 ELSE 2 END"),
            "{dialect}: {read}"
        );
    }
    // DataFusion has no IF: left for the planner to name.
    assert!(in_dialect("datafusion", text).contains("IF(a > 1"));
    // Postgres reads `::` casts (planned as CAST).
    assert_eq!(
        in_dialect("postgres", "SELECT a::int AS a FROM t"),
        "SELECT a::INT AS a FROM t"
    );
}
