//! Pack-level lints: the AST lints of every rule, with the context only the pack has
//! (which rules are read by others, output contracts, unused inputs), and the lint levels
//! configured in pack.yaml.

use crate::Pack;
use crate::manifest::MANIFEST_FILE;
use rulec_diagnostics::{Code, Diagnostic, Severity, codes};
use rulec_syntax::context_free_diagnostics;
use std::collections::{BTreeMap, BTreeSet};

/// A configured lint level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintLevel {
    Allow,
    Warn,
    Deny,
}

/// Every lint finding of the pack, at its default level (warning).
pub fn lint_pack(pack: &Pack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let read_by_others: BTreeSet<&str> = pack
        .rules
        .iter()
        .flat_map(|r| r.upstream_rules.iter().map(String::as_str))
        .collect();
    for rule in &pack.rules {
        let lints = &rule.summary.lints;
        for d in context_free_diagnostics(lints) {
            out.push(d.in_file(rule.file.clone()));
        }
        if let Some(span) = lints.order_without_limit
            && read_by_others.contains(rule.name.as_str())
        {
            out.push(
                Diagnostic::warning(
                    codes::ORDER_WITHOUT_LIMIT,
                    format!(
                        "`{}` is read by other rules, which do not see its row order",
                        rule.name
                    ),
                )
                .in_file(rule.file.clone())
                .at_opt(span)
                .with_help("order rows in the rule that publishes them last, or add a LIMIT"),
            );
        }
        if let Some(contract) = pack.output_contracts.get(&rule.name) {
            for span in &lints.top_level_stars {
                out.push(
                    Diagnostic::warning(
                        codes::STAR_WITH_OUTPUT_CONTRACT,
                        format!(
                            "`{}` has an output contract (`{}`) but selects `*`",
                            rule.name, contract.file
                        ),
                    )
                    .in_file(rule.file.clone())
                    .at_opt(*span)
                    .with_help("list the columns the contract declares"),
                );
            }
        }
    }
    let read: BTreeSet<&str> = pack
        .rules
        .iter()
        .flat_map(|r| r.upstream_inputs.iter().map(String::as_str))
        .collect();
    for (table, contract) in &pack.contracts {
        if !read.contains(table.as_str()) {
            out.push(
                Diagnostic::warning(
                    codes::UNUSED_INPUT,
                    format!("no rule reads input `{table}`"),
                )
                .in_file(contract.file.clone())
                .at_opt(contract.table_span)
                .with_help("remove the contract (and its pack.yaml input), or read the table"),
            );
        }
    }
    out
}

/// Reads `lints:` from pack.yaml: lint code or name → level. Invalid entries are reported.
pub fn lint_levels(pack: &Pack) -> (BTreeMap<Code, LintLevel>, Vec<Diagnostic>) {
    let mut levels = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in &pack.manifest.lints {
        let span = pack.manifest.key_span(key);
        let code = codes::lookup(key);
        let level = match value.to_ascii_lowercase().as_str() {
            "allow" => Some(LintLevel::Allow),
            "warn" => Some(LintLevel::Warn),
            "deny" => Some(LintLevel::Deny),
            _ => None,
        };
        match (code, level) {
            (Some(code), Some(level)) if code.is_lint() => {
                levels.insert(code, level);
            }
            (Some(code), Some(_)) => problems.push(
                Diagnostic::error(
                    codes::INVALID_LINT_CONFIG,
                    format!(
                        "`{key}` ({} {}) is not a lint; only lints can be configured",
                        code.code, code.slug
                    ),
                )
                .in_file(MANIFEST_FILE)
                .at_opt(span),
            ),
            (None, _) => {
                let names: Vec<String> = codes::LINTS
                    .iter()
                    .map(|c| format!("{} {}", c.code, c.slug))
                    .collect();
                problems.push(
                    Diagnostic::error(codes::INVALID_LINT_CONFIG, format!("unknown lint `{key}`"))
                        .in_file(MANIFEST_FILE)
                        .at_opt(span)
                        .with_help(format!("lints: {}", names.join(", "))),
                );
            }
            (Some(_), None) => problems.push(
                Diagnostic::error(
                    codes::INVALID_LINT_CONFIG,
                    format!("unknown lint level `{value}` for `{key}` (use allow, warn or deny)"),
                )
                .in_file(MANIFEST_FILE)
                .at_opt(span),
            ),
        }
    }
    (levels, problems)
}

/// Applies lint levels: allowed lints are dropped, denied ones become errors.
pub fn apply_lint_levels(
    diagnostics: Vec<Diagnostic>,
    levels: &BTreeMap<Code, LintLevel>,
) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .filter_map(|mut d| match levels.get(&d.code) {
            Some(LintLevel::Allow) => None,
            Some(LintLevel::Deny) => {
                d.severity = Severity::Error;
                d.notes.push(format!(
                    "denied in pack.yaml (lints: {}: deny)",
                    d.code.code
                ));
                Some(d)
            }
            Some(LintLevel::Warn) | None => Some(d),
        })
        .collect()
}
