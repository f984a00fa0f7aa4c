//! Dialect policies: `dialects/<name>.yaml`, embedded at build time. A policy names the
//! sqlparser dialect that reads rules, the unparser dialect that writes canonical SQL for
//! the engine, how unquoted identifiers fold, and the syntax rewrites applied to a rule's
//! AST before planning (see [`crate::rewrite`]). The canonical form is dialect-free: the
//! same rule written in two dialects plans to one fingerprint.

use rulec_diagnostics::{Diagnostic, Span, codes, yaml_key_span};
use serde::Deserialize;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/dialects.rs"));

/// The unparser dialects canonical SQL can be written in.
pub const UNPARSERS: &[&str] = &["datafusion", "duckdb", "postgres", "spark", "trino"];

/// A syntax rewrite a dialect applies on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadRewrite {
    /// `IF(c, a, b)` and `IIF(c, a, b)` as `CASE WHEN c THEN a ELSE b END`.
    IfFunction,
    /// `x[i]` with a non-string index is refused: the dialect's arrays are 0-based
    /// (Spark), DataFusion's lists 1-based, and the AST does not say which is a list.
    RefuseZeroBasedSubscripts,
    /// `(composite).field` (PostgreSQL) as the field access DataFusion plans.
    CompositeFieldAccess,
    /// Spark's `explode(list)` as `unnest(list)` (both drop NULL and empty lists); the
    /// forms that keep them or add positions (`explode_outer`, `posexplode`, `inline`) are
    /// refused.
    Explode,
}

impl ReadRewrite {
    pub const NAMES: &'static [&'static str] = &[
        "if_function",
        "refuse_zero_based_subscripts",
        "composite_field_access",
        "explode",
    ];

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "if_function" => Some(ReadRewrite::IfFunction),
            "refuse_zero_based_subscripts" => Some(ReadRewrite::RefuseZeroBasedSubscripts),
            "composite_field_access" => Some(ReadRewrite::CompositeFieldAccess),
            "explode" => Some(ReadRewrite::Explode),
            _ => None,
        }
    }
}

/// How unquoted identifiers are folded when a rule is read. DataFusion's planner folds them
/// to lower case, and so does every engine with a policy here; a dialect that keeps their
/// case would need the planner's identifier normalization switched per pack, which rulec
/// does not do, so no other value is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierCase {
    Lower,
}

/// A loaded, valid dialect policy.
#[derive(Debug, Clone)]
pub struct DialectPolicy {
    pub name: String,
    /// The sqlparser dialect's name (`generic`, `duckdb`, `postgresql`, `spark`, …).
    pub parser: String,
    /// The unparser dialect (one of [`UNPARSERS`]).
    pub unparser: String,
    pub identifiers: IdentifierCase,
    pub read_rewrites: Vec<ReadRewrite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    parser: String,
    unparser: String,
    identifiers: String,
    #[serde(default)]
    read_rewrites: Vec<String>,
}

/// Parses and validates a policy; `file` names it in its diagnostics (`P008`).
pub fn parse_policy(file: &str, text: &str) -> Result<DialectPolicy, Vec<Diagnostic>> {
    let invalid = |message: String, span: Option<Span>| {
        Diagnostic::error(codes::INVALID_DIALECT_POLICY, message)
            .in_file(file)
            .at_opt(span)
    };
    let raw: RawPolicy = serde_yaml::from_str(text).map_err(|err| {
        let location = err.location().map(|l| (l.line(), l.column()));
        let (message, span) = rulec_diagnostics::yaml_error(&err.to_string(), location);
        vec![invalid(format!("invalid dialect policy: {message}"), span)]
    })?;
    let mut problems = Vec::new();
    let at = |key: &str| yaml_key_span(text, key, 0);
    if sqlparser::dialect::dialect_from_str(&raw.parser).is_none() {
        problems.push(invalid(
            format!(
                "`parser: {}` is not a sqlparser dialect (generic, duckdb, postgresql, spark, hive, ansi, mysql, …)",
                raw.parser
            ),
            at("parser"),
        ));
    }
    if !UNPARSERS.contains(&raw.unparser.as_str()) {
        problems.push(invalid(
            format!(
                "`unparser: {}` is not one of {}",
                raw.unparser,
                UNPARSERS.join(", ")
            ),
            at("unparser"),
        ));
    }
    let identifiers = match raw.identifiers.as_str() {
        "lower" => Some(IdentifierCase::Lower),
        other => {
            problems.push(invalid(
                format!("`identifiers: {other}` is not `lower`, the one folding rulec plans with"),
                at("identifiers"),
            ));
            None
        }
    };
    let mut read_rewrites = Vec::new();
    for name in &raw.read_rewrites {
        match ReadRewrite::from_name(name) {
            Some(r) => read_rewrites.push(r),
            None => problems.push(invalid(
                format!(
                    "read rewrite `{name}` is not one of {}",
                    ReadRewrite::NAMES.join(", ")
                ),
                at("read_rewrites"),
            )),
        }
    }
    let stem = file
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(".yaml"))
        .unwrap_or(file);
    if raw.name != stem {
        problems.push(invalid(
            format!(
                "the policy is named `{}` but its file is `{stem}.yaml`",
                raw.name
            ),
            at("name"),
        ));
    }
    match identifiers {
        Some(identifiers) if problems.is_empty() => Ok(DialectPolicy {
            name: raw.name,
            parser: raw.parser,
            unparser: raw.unparser,
            identifiers,
            read_rewrites,
        }),
        _ => Err(problems),
    }
}

/// Every embedded policy, valid ones only (a test keeps them all valid).
pub fn policies() -> &'static [DialectPolicy] {
    static POLICIES: OnceLock<Vec<DialectPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        POLICY_FILES
            .iter()
            .filter_map(|(file, text)| parse_policy(file, text).ok())
            .collect()
    })
}

/// The embedded policy files, for their test: (file name, text).
pub fn policy_files() -> &'static [(&'static str, &'static str)] {
    POLICY_FILES
}
