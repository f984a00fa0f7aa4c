//! Rule packs: `pack.yaml`, contracts, rule discovery and the rule DAG.
//!
//! A pack is loaded from a [`PackFiles`], an in-memory set of the pack's text files (read
//! from a directory, or later from git objects), so everything after reading is pure.
//! Loading never stops at the first problem: [`load_pack`] returns the pack it could build
//! and every diagnostic it found.

mod files;
mod graph;
mod lints;
mod manifest;
mod products;

pub use files::{PackFiles, is_pack_file};
pub use graph::order_rules;
pub use lints::{LintLevel, apply_lint_levels, lint_levels, lint_pack};
pub use manifest::{PackManifest, ProductSection, RunSection};
pub use products::{
    Compression, DEFAULT_SLICES, Incremental, MAX_SLICES, Materialize, ProductSettings,
    SliceSetting, SortKey, ViolationPolicy, parse_size,
};

use rulec_contract::{Contract, parse_contract};
use rulec_diagnostics::{Diagnostic, codes};
use rulec_syntax::{ParsedRule, RuleLints, SqlDialect, TableRef, parse_rule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A loaded pack.
#[derive(Debug, Clone)]
pub struct Pack {
    pub manifest: PackManifest,
    pub dialect: SqlDialect,
    /// Input contracts by table name.
    pub contracts: BTreeMap<String, Contract>,
    /// Output contracts (a contract whose table is a rule's name) by rule name.
    pub output_contracts: BTreeMap<String, Contract>,
    /// Every rule, in dependency order (a rule comes after every rule it reads). Rules in a
    /// cycle come last, marked by `in_cycle`.
    pub rules: Vec<Rule>,
}

/// One rule: one `.sql` file, one product.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The file stem: the product's name.
    pub name: String,
    /// Path relative to the pack root, with `/` separators.
    pub file: String,
    pub text: String,
    /// What loading needs of the parse: table references and lint findings.
    pub summary: RuleSummary,
    /// The parsed query, parsed when first asked for (a summary from a [`ParseMemo`] spares
    /// the parse of a rule nothing asks more of).
    /// (Boxed: a parsed statement is large, and rules are moved while loading.)
    parsed: OnceLock<Option<Box<ParsedRule>>>,
    dialect: SqlDialect,
    /// Rules this rule reads (by name), sorted.
    pub upstream_rules: Vec<String>,
    /// Input tables this rule reads (by contract table name), sorted.
    pub upstream_inputs: Vec<String>,
    /// True when the rule is part of a reference cycle (and cannot be planned).
    pub in_cycle: bool,
}

impl Pack {
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

impl Rule {
    /// The parsed query, when the file is a valid rule.
    pub fn parsed(&self) -> Option<&ParsedRule> {
        self.parsed
            .get_or_init(|| {
                if !self.parses() {
                    return None;
                }
                parse_rule(&self.file, &self.text, self.dialect)
                    .ok()
                    .map(Box::new)
            })
            .as_deref()
    }

    /// Whether the text has been parsed in this load (a summary from a [`ParseMemo`] leaves
    /// it unparsed until [`Rule::parsed`] is called).
    pub fn is_parsed(&self) -> bool {
        self.parsed.get().is_some()
    }

    /// Whether the file is a valid rule.
    pub fn parses(&self) -> bool {
        self.summary.table_refs.is_some()
    }

    /// The tables the rule names (CTEs excluded), in source order; empty when it does not
    /// parse.
    pub fn table_refs(&self) -> &[TableRef] {
        self.summary.table_refs.as_deref().unwrap_or_default()
    }
}

/// What loading a pack needs of one rule's text: its table references and its lint
/// findings, or why it is not a valid rule. A function of the rule's file name, text and
/// dialect (and rulec's version), so it can be kept between checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSummary {
    /// The tables the rule names; `None` when it is not a valid rule.
    pub table_refs: Option<Vec<TableRef>>,
    /// Why it is not a valid rule (parse and statement findings).
    pub errors: Vec<Diagnostic>,
    /// The AST lints' findings.
    pub lints: RuleLints,
}

impl RuleSummary {
    /// Parses a rule's text: its summary, and the parse when it is valid.
    pub fn parse(file: &str, text: &str, dialect: SqlDialect) -> (RuleSummary, Option<ParsedRule>) {
        match parse_rule(file, text, dialect) {
            Ok(parsed) => (
                RuleSummary {
                    table_refs: Some(parsed.table_refs.clone()),
                    errors: Vec::new(),
                    lints: rulec_syntax::lint_statement(&parsed.statement),
                },
                Some(parsed),
            ),
            Err(errors) => (
                RuleSummary {
                    table_refs: None,
                    errors,
                    lints: RuleLints::default(),
                },
                None,
            ),
        }
    }
}

/// Summaries of rule texts known from earlier checks, so loading need not parse them.
pub trait ParseMemo {
    /// The summary of `text` as rule file `file` in `dialect`, if known.
    fn summary(&self, file: &str, text: &str, dialect: SqlDialect) -> Option<RuleSummary>;
}

/// A memo that knows nothing: every rule is parsed.
pub struct NoParseMemo;

impl ParseMemo for NoParseMemo {
    fn summary(&self, _file: &str, _text: &str, _dialect: SqlDialect) -> Option<RuleSummary> {
        None
    }
}

/// Loads a pack from its files. Returns `None` only when there is no usable `pack.yaml`.
pub fn load_pack(files: &PackFiles) -> (Option<Pack>, Vec<Diagnostic>) {
    load_pack_with(files, &NoParseMemo)
}

/// [`load_pack`], taking the summaries of rule texts `memo` knows instead of parsing them.
pub fn load_pack_with(files: &PackFiles, memo: &dyn ParseMemo) -> (Option<Pack>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let manifest = match files.text(manifest::MANIFEST_FILE) {
        Some(Ok(text)) => match PackManifest::parse(text) {
            Ok(m) => m,
            Err(d) => {
                diagnostics.extend(d);
                return (None, diagnostics);
            }
        },
        Some(Err(d)) => {
            diagnostics.push(d);
            return (None, diagnostics);
        }
        None => {
            diagnostics.push(
                Diagnostic::error(
                    codes::MALFORMED_PACK,
                    format!(
                        "no `{}` in {}",
                        manifest::MANIFEST_FILE,
                        files.root_display()
                    ),
                )
                .with_help("a pack directory holds pack.yaml, contracts/*.yaml and .sql rules"),
            );
            return (None, diagnostics);
        }
    };
    let dialect = match SqlDialect::from_name(&manifest.dialect) {
        Some(d) => d,
        None => {
            diagnostics.push(
                Diagnostic::error(
                    codes::MALFORMED_PACK,
                    format!(
                        "unknown dialect `{}` (known: {})",
                        manifest.dialect,
                        SqlDialect::names().join(", ")
                    ),
                )
                .in_file(manifest::MANIFEST_FILE)
                .at_opt(manifest.value_span("dialect")),
            );
            SqlDialect::DataFusion
        }
    };

    // Rules first: contracts named like a rule are that rule's output contract.
    let mut rules: Vec<Rule> = Vec::new();
    let mut rule_files: BTreeMap<String, String> = BTreeMap::new();
    for path in files.rule_paths() {
        let name = files::file_stem(&path);
        if let Some(first) = rule_files.get(&name) {
            diagnostics.push(
                Diagnostic::error(
                    codes::DUPLICATE_RULE,
                    format!("rule `{name}` is defined twice: in `{first}` and in `{path}`"),
                )
                .in_file(path.clone())
                .at(rulec_diagnostics::Span::point(1, 1))
                .with_help(
                    "rule names are file stems and must be unique in the pack; rename one file",
                ),
            );
            continue;
        }
        if manifest.inputs.contains_key(&name) {
            diagnostics.push(
                Diagnostic::error(
                    codes::RULE_SHADOWS_INPUT,
                    format!("rule `{name}` has the name of input `{name}` declared in pack.yaml"),
                )
                .in_file(path.clone())
                .at(rulec_diagnostics::Span::point(1, 1))
                .with_help("rename the rule file: rules and inputs share one namespace"),
            );
            continue;
        }
        rule_files.insert(name.clone(), path.clone());
        let (text, summary, parsed) = match files.text(&path) {
            Some(Ok(text)) => match memo.summary(&path, text, dialect) {
                Some(summary) => (text.to_owned(), summary, OnceLock::new()),
                None => {
                    let (summary, parsed) = RuleSummary::parse(&path, text, dialect);
                    (
                        text.to_owned(),
                        summary,
                        OnceLock::from(parsed.map(Box::new)),
                    )
                }
            },
            Some(Err(d)) => {
                diagnostics.push(d);
                let summary = RuleSummary::default();
                (String::new(), summary, OnceLock::from(None))
            }
            None => continue,
        };
        diagnostics.extend(summary.errors.iter().cloned());
        rules.push(Rule {
            name,
            file: path,
            text,
            summary,
            parsed,
            dialect,
            upstream_rules: Vec::new(),
            upstream_inputs: Vec::new(),
            in_cycle: false,
        });
    }

    let mut contracts: BTreeMap<String, Contract> = BTreeMap::new();
    let mut output_contracts: BTreeMap<String, Contract> = BTreeMap::new();
    for path in files.contract_paths() {
        let Some(text) = files.text(&path) else {
            continue;
        };
        let text = match text {
            Ok(t) => t,
            Err(d) => {
                diagnostics.push(d);
                continue;
            }
        };
        match parse_contract(&path, text) {
            Ok(contract) => {
                let target = if rule_files.contains_key(&contract.table) {
                    &mut output_contracts
                } else {
                    &mut contracts
                };
                if let Some(first) = target.get(&contract.table) {
                    diagnostics.push(
                        Diagnostic::error(
                            codes::DUPLICATE_CONTRACT,
                            format!(
                                "table `{}` has two contracts: `{}` and `{}`",
                                contract.table, first.file, contract.file
                            ),
                        )
                        .in_file(path.clone())
                        .at_opt(contract.table_span),
                    );
                    continue;
                }
                target.insert(contract.table.clone(), contract);
            }
            Err(d) => diagnostics.extend(d),
        }
    }
    for table in manifest.inputs.keys() {
        if !contracts.contains_key(table) {
            diagnostics.push(
                Diagnostic::error(
                    codes::INPUT_WITHOUT_CONTRACT,
                    format!("input `{table}` has no contract"),
                )
                .in_file(manifest::MANIFEST_FILE)
                .at_opt(manifest.key_span(table))
                .with_help(format!("add contracts/{table}.yaml declaring its columns")),
            );
        }
    }
    for product in manifest.products.keys() {
        if !rule_files.contains_key(product) {
            let hint = rulec_diagnostics::did_you_mean(
                product,
                rule_files.keys().map(String::as_str),
            )
            .map_or_else(
                || {
                    "settings under `products:` are keyed by rule name (the rule file's stem)"
                        .to_owned()
                },
                |c| format!("did you mean `{c}`?"),
            );
            diagnostics.push(
                Diagnostic::error(
                    codes::MALFORMED_PACK,
                    format!(
                        "`products:` has settings for `{product}`, but no rule is named `{product}`"
                    ),
                )
                .in_file(manifest::MANIFEST_FILE)
                .at_opt(manifest.product_span(product))
                .with_help(hint),
            );
        }
    }

    for rule in &mut rules {
        let mut up_rules = Vec::new();
        let mut up_inputs = Vec::new();
        for r in rule.table_refs() {
            if rule_files.contains_key(&r.name) {
                up_rules.push(r.name.clone());
            } else if contracts.contains_key(&r.name) {
                up_inputs.push(r.name.clone());
            }
        }
        up_rules.sort();
        up_rules.dedup();
        up_inputs.sort();
        up_inputs.dedup();
        rule.upstream_rules = up_rules;
        rule.upstream_inputs = up_inputs;
    }
    let (rules, cycle_diagnostics) = order_rules(rules);
    diagnostics.extend(cycle_diagnostics);

    let pack = Pack {
        manifest,
        dialect,
        contracts,
        output_contracts,
        rules,
    };
    diagnostics.extend(lint_pack(&pack));
    (Some(pack), diagnostics)
}

#[cfg(test)]
mod tests;
