//! Unit tests of `rulec-diagnostics`.

use crate::{Diagnostic, Span, codes, render_human, to_json};

#[test]
fn codes_are_unique_and_well_formed() {
    let mut seen = std::collections::BTreeSet::new();
    for code in codes::ALL {
        assert!(seen.insert(code.code), "duplicate code {}", code.code);
        assert!(seen.insert(code.slug), "duplicate slug {}", code.slug);
        let (area, digits) = code.code.split_at(1);
        assert!(
            "SCPQERO".contains(area),
            "{} has an unknown area",
            code.code
        );
        assert!(digits.len() == 3 && digits.chars().all(|c| c.is_ascii_digit()));
        assert!(
            code.slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-')
        );
    }
    assert_eq!(codes::lookup("q001"), Some(codes::UNKNOWN_COLUMN));
    assert_eq!(codes::lookup("unknown-column"), Some(codes::UNKNOWN_COLUMN));
    assert_eq!(codes::lookup("Z999"), None);
}

#[test]
fn human_rendering_points_at_the_span() {
    let d = Diagnostic::error(codes::UNKNOWN_COLUMN, "column `nme` not found")
        .in_file("rules/a.sql")
        .at(Span::new(2, 8, 2, 11))
        .with_note("possible column t.name")
        .with_help("did you mean `name`?");
    let text = render_human(&d, Some("SELECT\n  x, y, nme\nFROM t"), false);
    assert_eq!(
        text,
        "error[Q001 unknown-column]: column `nme` not found\n --> rules/a.sql:2:8\n  |\n2 |   x, y, nme\n  |        ^^^\n  |\n  = note: possible column t.name\n  = help: did you mean `name`?\n"
    );
    // Without the source, the location is still named.
    let bare = render_human(&d, None, false);
    assert!(
        bare.starts_with(
            "error[Q001 unknown-column]: column `nme` not found\n--> rules/a.sql:2:8\n"
        ),
        "{bare}"
    );
    // Colour is for terminals only.
    assert!(!text.contains('\u{1b}'));
    assert!(render_human(&d, None, true).contains('\u{1b}'));
}

#[test]
fn multi_byte_characters_and_crlf_keep_carets_under_the_span() {
    let d = Diagnostic::error(codes::UNKNOWN_COLUMN, "x")
        .in_file("a.sql")
        .at(Span::new(1, 10, 1, 13));
    let text = render_human(&d, Some("SELECT \"é\", abc FROM t\r\n"), false);
    assert!(
        text.contains("1 | SELECT \"é\", abc FROM t\n  |          ^^^\n"),
        "{text}"
    );
}

#[test]
fn json_has_the_design_fields() {
    let d = Diagnostic::error(codes::PARSE_ERROR, "boom")
        .in_file("a.sql")
        .at(Span::new(1, 2, 1, 5));
    let v = to_json(&d);
    assert_eq!(v["severity"], "error");
    assert_eq!(v["code"], "S001");
    assert_eq!(v["file"], "a.sql");
    assert_eq!(v["line"], 1);
    assert_eq!(v["column"], 2);
    assert_eq!(v["end_line"], 1);
    assert_eq!(v["end_column"], 5);
}

#[test]
fn did_you_mean_prefers_candidates_that_start_like_the_name() {
    // `kind` and `end` are both one edit from `knd`; the typo kept the first letter.
    assert_eq!(
        crate::did_you_mean("knd", ["end", "kind", "span"]),
        Some("kind")
    );
    assert_eq!(crate::did_you_mean("zzz", ["kind"]), None);
}
