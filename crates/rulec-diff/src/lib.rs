//! Semantic diff of two versions of a pack, from their canonical plans and lineage.
//!
//! Per rule: added, removed, renamed, unchanged, cosmetic (text changed, fingerprint
//! same) or changed in meaning, *breaking* (rows or existing columns may differ) or
//! *non-breaking* (only columns added). Which columns changed is decided per column: the
//! plan projected onto one column, run through the canonical pipeline and fingerprinted,
//! on each side. Contract changes (columns removed, retyped, made nullable) are changes
//! too. Then, for every rule downstream of a change, lineage decides whether it is
//! *affected* (it reads a changed or removed column, or a column computed from one) or
//! *not affected*.

mod columns;
mod render;

pub use render::{render_human, render_json};

use rulec_compile::{CompiledPack, Pipeline};
use rulec_contract::render_type;
use rulec_lineage::{ColumnRef, PackLineage};
use rulec_pack::Pack;
use std::collections::{BTreeMap, BTreeSet};

/// One side of a diff: a loaded and compiled pack, and how to name it.
pub struct Side<'a> {
    pub label: String,
    pub pack: &'a Pack,
    pub compiled: &'a CompiledPack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Added,
    Removed,
    Renamed,
    Unchanged,
    Cosmetic,
    Changed,
    /// The rule does not compile on one side: no meaning can be compared.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Rows or existing columns may differ.
    Breaking,
    /// Only columns were added (or existing ones reordered).
    NonBreaking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    Affected,
    NotAffected,
}

/// Column-level changes of a rule's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ColumnChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleDiff {
    pub name: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Whether the rule's text changed (a rule can change meaning with the same text when
    /// what it reads changed type).
    pub text_changed: bool,
    pub old_fingerprint: Option<String>,
    pub new_fingerprint: Option<String>,
    pub columns: ColumnChanges,
    /// For a rule downstream of a change: whether it reads a changed column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// The changed or removed upstream columns it reads.
    pub reads_changed: Vec<String>,
    /// Unified diff of the canonical SQL (or of the rule text where the canonical SQL
    /// cannot be printed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_diff: Option<String>,
    /// Why the rule could not be compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContractColumnChange {
    pub column: String,
    /// `added`, `removed`, `retyped`, `made_nullable` or `made_not_null`.
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_type: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ContractDiff {
    pub name: String,
    /// `added`, `removed` or `changed`.
    pub status: &'static str,
    pub columns: Vec<ContractColumnChange>,
    /// The rules that read a removed, retyped or re-nulled column (by lineage of the old
    /// pack, so a rule that no longer compiles is still named).
    pub breaks: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PackDiff {
    pub old: String,
    pub new: String,
    pub contracts: Vec<ContractDiff>,
    pub rules: Vec<RuleDiff>,
}

impl PackDiff {
    /// Whether anything changed in meaning: a contract, or a rule added, removed, renamed
    /// or changed.
    pub fn changed(&self) -> bool {
        !self.contracts.is_empty()
            || self.rules.iter().any(|r| {
                matches!(
                    r.status,
                    Status::Added | Status::Removed | Status::Renamed | Status::Changed
                )
            })
    }

    /// Whether some rule could not be compared (it does not compile on one side).
    pub fn has_errors(&self) -> bool {
        self.rules.iter().any(|r| r.status == Status::Error)
    }
}

/// Compares two versions of a pack.
pub fn diff(old: &Side<'_>, new: &Side<'_>) -> PackDiff {
    let pipeline = Pipeline::new();
    let old_lineage = PackLineage::build(old.pack, old.compiled);
    let new_lineage = PackLineage::build(new.pack, new.compiled);

    // Changed sources: (table, column) whose values may differ, by name in the new pack.
    let mut changed_sources: BTreeSet<ColumnRef> = BTreeSet::new();
    // Tables whose change makes their readers "downstream of a change".
    let mut changed_tables: BTreeSet<String> = BTreeSet::new();

    let contracts = contract_diffs(old.pack, new.pack, &old_lineage);
    for contract in &contracts {
        changed_tables.insert(contract.name.clone());
        for column in &contract.columns {
            if column.change != "added" {
                changed_sources.insert(ColumnRef::new(&contract.name, &column.column));
            }
        }
    }

    let renames = find_renames(old, new);
    let new_to_old: BTreeMap<&str, &str> = renames
        .iter()
        .map(|(o, n)| (n.as_str(), o.as_str()))
        .collect();

    let mut rules = Vec::new();
    // Rules of the new pack, in its dependency order.
    for rule in &new.pack.rules {
        let name = rule.name.as_str();
        let new_compiled = new.compiled.rule(name);
        let new_fingerprint = new_compiled.and_then(|c| c.fingerprint.clone());
        let old_name = new_to_old.get(name).copied().unwrap_or(name);
        let Some(old_rule) = old.pack.rule(old_name) else {
            changed_tables.insert(name.to_owned());
            rules.push(RuleDiff {
                status: if new_compiled.is_some_and(|c| c.plan.is_some()) {
                    Status::Added
                } else {
                    Status::Error
                },
                errors: errors_of(new.compiled, name),
                new_fingerprint,
                text_changed: true,
                ..RuleDiff::new(name)
            });
            continue;
        };
        let old_compiled = old.compiled.rule(old_name);
        let old_plan = old_compiled.and_then(|c| c.plan.as_ref());
        let new_plan = new_compiled.and_then(|c| c.plan.as_ref());
        let mut entry = RuleDiff {
            old_fingerprint: old_compiled.and_then(|c| c.fingerprint.clone()),
            new_fingerprint,
            text_changed: old_rule.text != rule.text,
            renamed_from: (old_name != name).then(|| old_name.to_owned()),
            ..RuleDiff::new(name)
        };
        let Some(new_plan) = new_plan else {
            // No meaning to compare on the new side.
            entry.status = Status::Error;
            entry.errors = errors_of(new.compiled, name)
                .into_iter()
                .map(|e| format!("new: {e}"))
                .collect();
            changed_tables.insert(name.to_owned());
            // Everything it produced may be gone.
            for column in old_lineage.columns_of(old_name).unwrap_or_default() {
                changed_sources.insert(ColumnRef::new(name, column.column));
            }
            changed_sources.insert(ColumnRef::rows(name));
            rules.push(entry);
            continue;
        };
        let Some(old_plan) = old_plan else {
            // Fixed: it did not compile before, so all of it is new meaning.
            entry.status = Status::Changed;
            entry.category = Some(Category::Breaking);
            entry.errors = errors_of(old.compiled, old_name)
                .into_iter()
                .map(|e| format!("old: {e}"))
                .collect();
            changed_tables.insert(name.to_owned());
            for field in new_plan.schema().fields() {
                changed_sources.insert(ColumnRef::new(name, field.name()));
            }
            changed_sources.insert(ColumnRef::rows(name));
            entry.sql_diff = Some(sql_diff(old, old_name, new, name));
            rules.push(entry);
            continue;
        };
        // Compare with upstream renames undone, so reading a renamed rule is not a change.
        let new_plan = columns::rename_scans(new_plan, &new_to_old);
        let same = rulec_compile::fingerprint(&pipeline, &new_plan)
            == *entry.old_fingerprint.as_ref().unwrap_or(&String::new());
        entry.status = if entry.renamed_from.is_some() {
            changed_tables.insert(name.to_owned());
            Status::Renamed
        } else if same {
            if entry.text_changed {
                Status::Cosmetic
            } else {
                Status::Unchanged
            }
        } else {
            Status::Changed
        };
        if !same {
            let changes = columns::compare(&pipeline, old_plan, &new_plan);
            entry.category = Some(
                if changes.removed.is_empty() && changes.changed.is_empty() {
                    Category::NonBreaking
                } else {
                    Category::Breaking
                },
            );
            for column in changes.removed.iter().chain(&changes.changed) {
                changed_sources.insert(ColumnRef::new(name, column));
            }
            if columns::rows_changed(&pipeline, old_plan, &new_plan) {
                changed_sources.insert(ColumnRef::rows(name));
            }
            changed_tables.insert(name.to_owned());
            entry.columns = changes;
            if entry.status == Status::Renamed {
                entry.status = Status::Changed;
            }
        }
        if entry.status == Status::Changed {
            entry.sql_diff = Some(sql_diff(old, old_name, new, name));
        }
        rules.push(entry);
    }
    for rule in &old.pack.rules {
        let name = rule.name.as_str();
        if new.pack.rule(name).is_none() && !renames.contains_key(name) {
            changed_tables.insert(name.to_owned());
            for column in old_lineage.columns_of(name).unwrap_or_default() {
                changed_sources.insert(ColumnRef::new(name, column.column));
            }
            changed_sources.insert(ColumnRef::rows(name));
            rules.push(RuleDiff {
                status: Status::Removed,
                old_fingerprint: old.compiled.rule(name).and_then(|c| c.fingerprint.clone()),
                text_changed: true,
                ..RuleDiff::new(name)
            });
        }
    }

    // Impact, in the new pack's dependency order: a rule downstream of a change is affected
    // when it reads a changed source; the columns it computes from one change in turn.
    let mut downstream: BTreeSet<String> = BTreeSet::new();
    for rule in &new.pack.rules {
        let name = rule.name.as_str();
        let old_name = new_to_old.get(name).copied().unwrap_or(name);
        let reads_from_changed = rule
            .upstream_rules
            .iter()
            .chain(&rule.upstream_inputs)
            .any(|t| changed_tables.contains(t) || downstream.contains(t));
        // Tables a rule reads under names that no longer exist (removed upstream) are
        // only in the old pack's lineage.
        let old_reads = old
            .pack
            .rule(old_name)
            .map(|r| {
                r.upstream_rules
                    .iter()
                    .chain(&r.upstream_inputs)
                    .any(|t| changed_tables.contains(t))
            })
            .unwrap_or(false);
        if !(reads_from_changed || old_reads) {
            continue;
        }
        downstream.insert(name.to_owned());
        let mut reads_changed: BTreeSet<String> = BTreeSet::new();
        // The new pack's lineage; for a rule that no longer compiles, the old one, with
        // renamed upstream rules under their new names.
        let (lineage_rule, from_old) = match new_lineage.rule(name) {
            Some(r) => (Some(r), false),
            None => (old_lineage.rule(old_name), true),
        };
        let rename = |source: &ColumnRef| {
            let mut source = source.clone();
            if from_old && let Some(renamed) = renames.get(&source.table) {
                source.table = renamed.clone();
            }
            source
        };
        let mut hit_columns = Vec::new();
        for (column, deps) in lineage_rule
            .map(|r| r.columns.as_slice())
            .unwrap_or_default()
        {
            let mut hit = false;
            for source in deps.keys() {
                let source = rename(source);
                if changed_sources.iter().any(|c| hits(c, &source)) {
                    reads_changed.insert(source.to_string());
                    hit = true;
                }
            }
            if hit {
                hit_columns.push(ColumnRef::new(name, column));
            }
        }
        // Its rows change when what decides them reads a changed source.
        let mut rows_hit = false;
        for source in lineage_rule.map(|r| &r.rows).into_iter().flatten() {
            let source = rename(source);
            if changed_sources.iter().any(|c| hits(c, &source)) {
                reads_changed.insert(source.to_string());
                rows_hit = true;
            }
        }
        changed_sources.extend(hit_columns);
        if rows_hit {
            changed_sources.insert(ColumnRef::rows(name));
        }
        if let Some(entry) = rules.iter_mut().find(|r| r.name == name) {
            entry.impact = Some(if reads_changed.is_empty() {
                Impact::NotAffected
            } else {
                Impact::Affected
            });
            entry.reads_changed = reads_changed.into_iter().collect();
        }
    }

    PackDiff {
        old: old.label.clone(),
        new: new.label.clone(),
        contracts,
        rules,
    }
}

/// Whether a changed source makes a read source change: the rows of a table change every
/// read of it; a changed column changes reads of it, of its fields, or of the struct it is
/// in, but not the rows.
fn hits(changed: &ColumnRef, read: &ColumnRef) -> bool {
    changed.table == read.table
        && (changed.is_rows() || (!read.is_rows() && changed.overlaps(read)))
}

impl RuleDiff {
    fn new(name: &str) -> Self {
        RuleDiff {
            name: name.to_owned(),
            status: Status::Unchanged,
            category: None,
            renamed_from: None,
            text_changed: false,
            old_fingerprint: None,
            new_fingerprint: None,
            columns: ColumnChanges::default(),
            impact: None,
            reads_changed: Vec::new(),
            sql_diff: None,
            errors: Vec::new(),
        }
    }
}

/// The first error message of each diagnostic of a rule that did not compile.
fn errors_of(compiled: &CompiledPack, name: &str) -> Vec<String> {
    compiled
        .rule(name)
        .map(|r| {
            r.diagnostics
                .iter()
                .filter(|d| d.is_error() || r.plan.is_none())
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect()
        })
        .unwrap_or_default()
}

/// Removed rules whose fingerprint equals an added rule's: renamed (old name → new name).
/// The fingerprint does not hold the rule's own name, so an unchanged rule under a new
/// name keeps it.
fn find_renames(old: &Side<'_>, new: &Side<'_>) -> BTreeMap<String, String> {
    let mut renames = BTreeMap::new();
    let added: Vec<(&str, &str)> = new
        .pack
        .rules
        .iter()
        .filter(|r| old.pack.rule(&r.name).is_none())
        .filter_map(|r| {
            let fp = new.compiled.rule(&r.name)?.fingerprint.as_deref()?;
            Some((r.name.as_str(), fp))
        })
        .collect();
    let mut taken = BTreeSet::new();
    for rule in &old.pack.rules {
        if new.pack.rule(&rule.name).is_some() {
            continue;
        }
        let Some(fp) = old
            .compiled
            .rule(&rule.name)
            .and_then(|c| c.fingerprint.as_deref())
        else {
            continue;
        };
        if let Some((name, _)) = added.iter().find(|(n, f)| *f == fp && !taken.contains(n)) {
            taken.insert(*name);
            renames.insert(rule.name.clone(), (*name).to_owned());
        }
    }
    renames
}

/// Contract changes, with the rules of the old pack that read what changed.
fn contract_diffs(old: &Pack, new: &Pack, old_lineage: &PackLineage) -> Vec<ContractDiff> {
    let names: BTreeSet<&String> = old.contracts.keys().chain(new.contracts.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (status, columns) = match (old.contracts.get(name), new.contracts.get(name)) {
            (Some(o), Some(n)) => {
                let mut columns = Vec::new();
                for field in o.schema.fields() {
                    match n.schema.field_with_name(field.name()) {
                        Err(_) => columns.push(ContractColumnChange {
                            column: field.name().clone(),
                            change: "removed",
                            old_type: Some(render_type(field.data_type())),
                            new_type: None,
                        }),
                        Ok(nf) if nf.data_type() != field.data_type() => {
                            columns.push(ContractColumnChange {
                                column: field.name().clone(),
                                change: "retyped",
                                old_type: Some(render_type(field.data_type())),
                                new_type: Some(render_type(nf.data_type())),
                            })
                        }
                        Ok(nf) if nf.is_nullable() != field.is_nullable() => {
                            columns.push(ContractColumnChange {
                                column: field.name().clone(),
                                change: if nf.is_nullable() {
                                    "made_nullable"
                                } else {
                                    "made_not_null"
                                },
                                old_type: Some(render_type(field.data_type())),
                                new_type: Some(render_type(nf.data_type())),
                            })
                        }
                        Ok(_) => {}
                    }
                }
                for field in n.schema.fields() {
                    if o.schema.field_with_name(field.name()).is_err() {
                        columns.push(ContractColumnChange {
                            column: field.name().clone(),
                            change: "added",
                            old_type: None,
                            new_type: Some(render_type(field.data_type())),
                        });
                    }
                }
                if columns.is_empty() {
                    continue;
                }
                ("changed", columns)
            }
            (Some(o), None) => (
                "removed",
                o.schema
                    .fields()
                    .iter()
                    .map(|f| ContractColumnChange {
                        column: f.name().clone(),
                        change: "removed",
                        old_type: Some(render_type(f.data_type())),
                        new_type: None,
                    })
                    .collect(),
            ),
            (None, Some(_)) => ("added", Vec::new()),
            (None, None) => continue,
        };
        let changed: Vec<ColumnRef> = columns
            .iter()
            .filter(|c| c.change != "added")
            .map(|c| ColumnRef::new(name, &c.column))
            .collect();
        let breaks = old_lineage
            .rules
            .iter()
            .filter(|r| {
                old_lineage
                    .reads(&r.name)
                    .iter()
                    .any(|read| changed.iter().any(|c| c.overlaps(read)))
            })
            .map(|r| r.name.clone())
            .collect();
        out.push(ContractDiff {
            name: name.clone(),
            status,
            columns,
            breaks,
        });
    }
    out
}

/// A unified diff of the two canonical SQL texts, or of the rule texts when either
/// canonical SQL cannot be printed.
fn sql_diff(old: &Side<'_>, old_name: &str, new: &Side<'_>, new_name: &str) -> String {
    let canonical = (
        rulec_compile::canonical_sql(old.pack, old.compiled, old_name),
        rulec_compile::canonical_sql(new.pack, new.compiled, new_name),
    );
    let (before, after, what) = match canonical {
        (Ok(a), Ok(b)) => (a, b, "canonical SQL"),
        _ => (
            old.pack
                .rule(old_name)
                .map(|r| r.text.clone())
                .unwrap_or_default(),
            new.pack
                .rule(new_name)
                .map(|r| r.text.clone())
                .unwrap_or_default(),
            "rule text; no canonical SQL",
        ),
    };
    let before = with_newline(before);
    let after = with_newline(after);
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{} ({what})", old.label_of(old_name)),
            &format!("{} ({what})", new.label_of(new_name)),
        )
        .to_string()
}

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

impl Side<'_> {
    fn label_of(&self, rule: &str) -> String {
        format!("{}: {rule}", self.label)
    }
}
