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

pub use files::{PackFiles, is_pack_file};
pub use graph::order_rules;
pub use lints::{LintLevel, apply_lint_levels, lint_levels, lint_pack};
pub use manifest::{PackManifest, ProductSection, RunSection};

use rulec_contract::{Contract, parse_contract};
use rulec_diagnostics::{Diagnostic, codes};
use rulec_syntax::{ParsedRule, SqlDialect, parse_rule};
use std::collections::BTreeMap;

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
    /// The parsed query, when the file is a valid rule.
    pub parsed: Option<ParsedRule>,
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

/// Loads a pack from its files. Returns `None` only when there is no usable `pack.yaml`.
pub fn load_pack(files: &PackFiles) -> (Option<Pack>, Vec<Diagnostic>) {
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
                        SqlDialect::NAMES.join(", ")
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
        let (text, parsed) = match files.text(&path) {
            Some(Ok(text)) => {
                let parsed = match parse_rule(&path, text, dialect) {
                    Ok(p) => Some(p),
                    Err(d) => {
                        diagnostics.extend(d);
                        None
                    }
                };
                (text.to_owned(), parsed)
            }
            Some(Err(d)) => {
                diagnostics.push(d);
                (String::new(), None)
            }
            None => continue,
        };
        rules.push(Rule {
            name,
            file: path,
            text,
            parsed,
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
        let Some(parsed) = &rule.parsed else { continue };
        let mut up_rules = Vec::new();
        let mut up_inputs = Vec::new();
        for r in &parsed.table_refs {
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
