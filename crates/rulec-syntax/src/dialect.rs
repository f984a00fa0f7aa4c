//! Dialect policies: `dialects/<name>.yaml`, embedded at build time. A policy names the
//! sqlparser dialect that reads rules, the unparser dialect that writes canonical SQL for
//! the engine, how unquoted identifiers fold, the syntax rewrites applied to a rule's AST
//! before planning (see [`crate::rewrite`]), the rewrites applied when canonical SQL is
//! printed for the engine (carried out by `rulec-compile`'s emitter), and the constructs the
//! engine cannot express. The canonical form is dialect-free: the same rule written in two
//! dialects plans to one fingerprint.

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
    /// `x[i]` with a non-string index as `subscript_from_zero(x, i)`: the dialect's arrays
    /// are 0-based (Spark), DataFusion's lists 1-based, and which `x` is a list is known only
    /// when the rule is planned (where the function becomes `array_element(x, i + 1)`).
    ZeroBasedSubscripts,
    /// `(composite).field` (PostgreSQL) as the field access DataFusion plans.
    CompositeFieldAccess,
    /// Spark's `explode(list)` as `unnest(list)` (both drop NULL and empty lists),
    /// `explode_outer` as the unnest that keeps them (one NULL element), `posexplode` alone
    /// in a select list as its `pos` and `col` columns; `inline` is refused. (`LATERAL VIEW`
    /// is read with the lateral unnests, in every dialect whose parser has it.)
    Explode,
    /// `array(a, b, …)` (Spark, Hive) as the list `make_array(a, b, …)`.
    ArrayFunction,
}

impl ReadRewrite {
    pub const NAMES: &'static [&'static str] = &[
        "if_function",
        "zero_based_subscripts",
        "composite_field_access",
        "explode",
        "array_function",
    ];

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "array_function" => Some(ReadRewrite::ArrayFunction),
            "if_function" => Some(ReadRewrite::IfFunction),
            "zero_based_subscripts" => Some(ReadRewrite::ZeroBasedSubscripts),
            "composite_field_access" => Some(ReadRewrite::CompositeFieldAccess),
            "explode" => Some(ReadRewrite::Explode),
            _ => None,
        }
    }
}

/// A rewrite applied when canonical SQL is printed for the dialect's engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitRewrite {
    /// Struct fields as `(s).a` (PostgreSQL reads `s.a` as a table's column).
    CompositeFieldAccess,
    /// Struct values as `named_struct('a', x, …)`.
    NamedStructFunction,
    /// Map values as `map(k1, v1, k2, v2, …)`.
    MapPairsFunction,
    /// Map values as `map(ARRAY[k1, …], ARRAY[v1, …])`.
    MapOfArrays,
    /// List values as `array(a, b, …)`.
    ArrayFunction,
    /// An unnest in a select list as `explode(x)`.
    Explode,
    /// An unnest in a select list as `CROSS JOIN UNNEST(x) AS u(v)` in the FROM clause.
    CrossJoinUnnest,
    /// Casts to text as `STRING`.
    StringType,
    /// A list element `array_element(x, i)` as `x[i - 1]` (the dialect subscripts from 0).
    ZeroBasedSubscripts,
}

impl EmitRewrite {
    pub const NAMES: &'static [&'static str] = &[
        "composite_field_access",
        "named_struct_function",
        "map_pairs_function",
        "map_of_arrays",
        "array_function",
        "explode",
        "cross_join_unnest",
        "string_type",
        "zero_based_subscripts",
    ];

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "composite_field_access" => EmitRewrite::CompositeFieldAccess,
            "named_struct_function" => EmitRewrite::NamedStructFunction,
            "map_pairs_function" => EmitRewrite::MapPairsFunction,
            "map_of_arrays" => EmitRewrite::MapOfArrays,
            "array_function" => EmitRewrite::ArrayFunction,
            "explode" => EmitRewrite::Explode,
            "cross_join_unnest" => EmitRewrite::CrossJoinUnnest,
            "string_type" => EmitRewrite::StringType,
            "zero_based_subscripts" => EmitRewrite::ZeroBasedSubscripts,
            _ => return None,
        })
    }
}

/// The constructs a policy can mark as beyond its engine (`unsupported:`): canonical SQL
/// using one is still printed (in the spelling the policy's rewrites give it, which rulec's
/// reader for the dialect reads back), with a note naming the construct and the reason.
pub const CONSTRUCTS: &[&str] = &["struct", "map", "unnest"];

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
    pub emit_rewrites: Vec<EmitRewrite>,
    /// Constructs (of [`CONSTRUCTS`]) the engine cannot express, with the reason.
    pub unsupported: Vec<(String, String)>,
}

impl DialectPolicy {
    /// True when the policy applies `rewrite` on emit.
    pub fn emits(&self, rewrite: EmitRewrite) -> bool {
        self.emit_rewrites.contains(&rewrite)
    }

    /// Why the engine cannot express `construct`, if the policy says it cannot.
    pub fn unsupported(&self, construct: &str) -> Option<&str> {
        self.unsupported
            .iter()
            .find(|(c, _)| c == construct)
            .map(|(_, why)| why.as_str())
    }
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
    #[serde(default)]
    emit_rewrites: Vec<String>,
    #[serde(default)]
    unsupported: std::collections::BTreeMap<String, String>,
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
    let mut emit_rewrites = Vec::new();
    for name in &raw.emit_rewrites {
        match EmitRewrite::from_name(name) {
            Some(r) => emit_rewrites.push(r),
            None => problems.push(invalid(
                format!(
                    "emit rewrite `{name}` is not one of {}",
                    EmitRewrite::NAMES.join(", ")
                ),
                at("emit_rewrites"),
            )),
        }
    }
    for construct in raw.unsupported.keys() {
        if !CONSTRUCTS.contains(&construct.as_str()) {
            problems.push(invalid(
                format!(
                    "unsupported construct `{construct}` is not one of {}",
                    CONSTRUCTS.join(", ")
                ),
                yaml_key_span(text, construct, 0).or_else(|| at("unsupported")),
            ));
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
            emit_rewrites,
            unsupported: raw.unsupported.into_iter().collect(),
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
