//! Proofs of canonical identity, over the CPG, nested-data, TPC-H and TPC-DS packs (the
//! hand-written query pairs are in `equivalent_pairs.rs`):
//!
//! - idempotence: the pipeline applied to a canonical plan changes nothing;
//! - canonical SQL plans back to the rule's fingerprint wherever it can be printed;
//! - invariance: meaning-preserving mutants (see `mutate.rs`) keep the fingerprint, and
//!   their own plans give the original's rows on data (CPG, nested, TPC-H);
//! - sensitivity: meaning-changing mutants move it, and their results differ on data
//!   (TPC-H and CPG; TPC-DS has no data);
//! - semantic preservation: canonical plans give the rows of the reference plans.
//!
//! Each test prints its tally per family (`cargo test -- --nocapture` shows it).

use crate::execute::{execute, pack_tables, pruned, reference_plan, rows, same_rows};
use crate::mutate::{self, Invariant, Sensitive};
use crate::support::{compile, root};
use rulec_compile::{
    CompiledPack, Pipeline, canonical_sql, explain_plan_structure, fingerprint,
    initial_plan_of_sql, plan_sql,
};
use rulec_pack::Pack;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Rules whose canonical plan DataFusion's unparser cannot print as SQL that plans back to
/// the same fingerprint (`rulec plan` says so instead of printing SQL).
const NOT_PRINTABLE: &[&str] = &[
    "tpcds/q08",
    "tpcds/q14a",
    "tpcds/q14b",
    "tpcds/q38",
    "tpcds/q87",
];

/// What a meaning-preserving mutant shows.
enum Checked {
    /// Same fingerprint.
    Kept,
    /// It renames an output column: a change of meaning, left out of the tally.
    RenamesOutput,
    /// It does not plan: the error and the mutant.
    DoesNotPlan(String),
    /// Its fingerprint moved: the mutant and how the encodings differ.
    Moved(String),
}

pub struct Subject {
    pack: Pack,
    compiled: CompiledPack,
}

/// Where a pack of the proofs lives: the bundled packs under `rules/`, and `nested`, the
/// fixture pack of nested-data rules over the CPG contracts.
pub fn pack_dir(name: &str) -> std::path::PathBuf {
    match name {
        "nested" => root().join("tests/packs/nested"),
        _ => root().join("rules").join(name),
    }
}

/// The packs of the proofs and their rule counts.
const PACKS: [(&str, usize); 4] = [("cpg", 9), ("nested", 25), ("tpch", 22), ("tpcds", 103)];

fn rule_total() -> usize {
    PACKS.iter().map(|(_, n)| n).sum()
}

pub fn subject(name: &'static str) -> Subject {
    let (pack, compiled) = compile(&pack_dir(name));
    for rule in &compiled.rules {
        assert!(
            rule.fingerprint.is_some(),
            "{name}/{}: {:?}",
            rule.name,
            rule.diagnostics
        );
    }
    Subject { pack, compiled }
}

impl Subject {
    fn rules(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.pack.rules.iter().map(|r| {
            let fingerprint = self
                .compiled
                .rule(&r.name)
                .and_then(|c| c.fingerprint.as_deref())
                .expect("fingerprint");
            (r.name.as_str(), r.text.as_str(), fingerprint)
        })
    }

    /// The fingerprint `sql` would have as rule `rule` of this pack.
    pub fn fingerprint_of(&self, rule: &str, sql: &str) -> Result<String, String> {
        let plan = plan_sql(&self.pack, &self.compiled, rule, sql)?;
        Ok(fingerprint(&Pipeline::new(), &plan))
    }

    /// The output column names of rule `rule`.
    fn output_names(&self, rule: &str) -> Vec<String> {
        let plan = self.compiled.rule(rule).and_then(|c| c.plan.as_ref());
        let schema = plan.expect("plan").schema();
        schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Checks a meaning-preserving mutant of rule `rule` (text `sql`, fingerprint
    /// `original`).
    fn check_invariant(&self, rule: &str, sql: &str, original: &str, mutant: &str) -> Checked {
        let plan = match plan_sql(&self.pack, &self.compiled, rule, mutant) {
            Ok(plan) => plan,
            Err(e) => {
                return Checked::DoesNotPlan(format!("the mutant does not plan: {e}\n{mutant}"));
            }
        };
        // An unaliased `sum(t.x)` is named after its alias `t`: renaming `t` renames the
        // product's column, which is a change of meaning.
        let names: Vec<String> = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if names != self.output_names(rule) {
            return Checked::RenamesOutput;
        }
        if fingerprint(&Pipeline::new(), &plan) == original {
            Checked::Kept
        } else {
            Checked::Moved(format!(
                "fingerprint moved\n{mutant}\n{}",
                self.encoding_diff(rule, sql, mutant)
            ))
        }
    }

    /// How the encodings of two queries differ, both planned as rule `rule` (for failures):
    /// the encodings with each value key's definition, one form per line.
    pub fn encoding_diff(&self, rule: &str, a: &str, b: &str) -> String {
        let encode = |sql: &str| {
            plan_sql(&self.pack, &self.compiled, rule, sql)
                .map(|p| explain_plan_structure(&p).replace(" (", "\n("))
                .unwrap_or_else(|e| e)
        };
        let diff = similar::TextDiff::from_lines(&encode(a), &encode(b))
            .unified_diff()
            .context_radius(2)
            .to_string();
        diff.chars().take(3000).collect()
    }
}

#[test]
fn canonicalizing_twice_changes_nothing() {
    rulec_compile::with_planning_stack(|| {
        let pipeline = Pipeline::new();
        let mut checked = 0;
        for (name, _) in PACKS {
            let s = subject(name);
            for rule in &s.compiled.rules {
                let plan = rule.plan.as_ref().expect("plan");
                let again = pipeline
                    .run(plan.clone(), |_, _| {})
                    .unwrap_or_else(|e| panic!("{name}/{}: {e}", rule.name));
                let (before, after) = (
                    plan.display_indent().to_string(),
                    again.display_indent().to_string(),
                );
                assert!(
                    before == after,
                    "{name}/{}: the pipeline changed its own output:\n{}",
                    rule.name,
                    similar::TextDiff::from_lines(&before, &after).unified_diff()
                );
                assert_eq!(
                    rule.fingerprint.as_deref(),
                    Some(fingerprint(&pipeline, &again).as_str()),
                    "{name}/{}",
                    rule.name
                );
                checked += 1;
            }
        }
        assert_eq!(checked, rule_total());
    });
}

#[test]
fn canonical_sql_plans_back_to_the_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let mut not_printable = Vec::new();
        let mut printed = 0;
        for (name, _) in PACKS {
            let s = subject(name);
            for (rule, _, expected) in s.rules() {
                match canonical_sql(&s.pack, &s.compiled, rule) {
                    Ok(sql) => {
                        let replanned = s
                            .fingerprint_of(rule, &sql)
                            .unwrap_or_else(|e| panic!("{name}/{rule}: {e}\n{sql}"));
                        assert_eq!(replanned, expected, "{name}/{rule}: {sql}");
                        printed += 1;
                    }
                    Err(_) => not_printable.push(format!("{name}/{rule}")),
                }
            }
        }
        assert_eq!(not_printable, NOT_PRINTABLE, "rules without canonical SQL");
        assert_eq!(printed + NOT_PRINTABLE.len(), rule_total());
    });
}

/// Per family: (mutants generated, mutants with the original's fingerprint).
type Tally = BTreeMap<String, (usize, usize)>;

/// Nested data (the CPG contracts: `cpg`, `nested`) or flat SQL (TPC-H, TPC-DS).
fn data_kind(pack: &str) -> &'static str {
    if matches!(pack, "cpg" | "nested") {
        "nested"
    } else {
        "flat"
    }
}

/// One more mutant of `key` generated, and kept or not.
fn count(tally: &mut Tally, key: String, kept: bool) {
    let entry = tally.entry(key).or_default();
    entry.0 += 1;
    entry.1 += usize::from(kept);
}

fn report(title: &str, tally: &Tally) -> String {
    let mut text = format!("{title}\n");
    for (family, (generated, kept)) in tally {
        let _ = writeln!(text, "  {family:<28} {kept:>4} / {generated:<4}");
    }
    text
}

#[test]
#[expect(clippy::print_stdout, reason = "the tallies are the proof's report")]
fn meaning_preserving_mutants_keep_the_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let mut tally = Tally::new();
        let mut by_kind = Tally::new();
        let mut renamed_outputs = Vec::new();
        let mut failures = Vec::new();
        let mut families: Vec<(String, Vec<Invariant>)> = Invariant::ALL
            .iter()
            .map(|f| (format!("{f:?}"), vec![*f]))
            .collect();
        families.push(("AllCombined".to_owned(), Invariant::ALL.to_vec()));
        for (name, _) in PACKS {
            let s = subject(name);
            for (rule, sql, original) in s.rules() {
                for (family, mutations) in &families {
                    let Some(mutant) = mutate::invariant(sql, mutations) else {
                        continue;
                    };
                    let kept = match s.check_invariant(rule, sql, original, &mutant) {
                        Checked::Kept => true,
                        Checked::RenamesOutput => {
                            renamed_outputs.push(format!("{name}/{rule} {family}"));
                            continue;
                        }
                        Checked::DoesNotPlan(why) => {
                            failures.push(format!("{name}/{rule} {family}: {why}"));
                            continue;
                        }
                        Checked::Moved(why) => {
                            failures.push(format!("{name}/{rule} {family}: {why}"));
                            false
                        }
                    };
                    let kind = data_kind(name);
                    count(&mut tally, family.clone(), kept);
                    count(&mut by_kind, format!("{kind}: all"), kept);
                    count(&mut by_kind, format!("{kind}: {family}"), kept);
                }
            }
        }
        println!("{}", report("invariance (kept / generated)", &tally));
        println!(
            "{}",
            report("invariance by data (kept / generated)", &by_kind)
        );
        println!("left out, they rename an output column: {renamed_outputs:?}");
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
        for (family, _) in &families {
            assert!(
                tally.get(family).is_some_and(|t| t.0 > 0),
                "family {family} generated no mutant"
            );
        }
    });
}

/// The mutants proven on data, not only by construction: a meaning-preserving mutant's own
/// plan, without rulec's pipeline (its reference plan, as in the test below), gives the rows
/// of the original's reference plan on the CPG, nested and TPC-H data. Each rule's mutant
/// with every family combined, and each single family on the first rules (up to
/// `SINGLES_PER_PACK`) of each pack it applies to. All single mutants (588) are held to the
/// fingerprint check above; this sample keeps the test near a minute in a debug build.
#[test]
#[expect(clippy::print_stdout, reason = "the tally is the proof's report")]
fn meaning_preserving_mutants_give_the_original_rows_on_data() {
    const SINGLES_PER_PACK: usize = 2;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rulec_compile::with_planning_stack(|| {
        let mut tally: BTreeMap<String, usize> = BTreeMap::new();
        let mut failures = Vec::new();
        for name in ["cpg", "nested", "tpch"] {
            let started = std::time::Instant::now();
            let s = subject(name);
            let tables = runtime
                .block_on(pack_tables(name, &s.pack, &s.compiled))
                .expect("a pack with data");
            let mut singles: BTreeMap<Invariant, usize> = BTreeMap::new();
            for (rule, sql, _) in s.rules() {
                let mut mutants = vec![("AllCombined".to_owned(), Invariant::ALL.to_vec())];
                // cpg_graph_by_file aggregates every node and edge (seconds per run): its
                // combined mutant only.
                if rule != "cpg_graph_by_file" {
                    for family in Invariant::ALL {
                        let done = singles.entry(family).or_default();
                        if *done < SINGLES_PER_PACK && mutate::invariant(sql, &[family]).is_some() {
                            *done += 1;
                            mutants.push((format!("{family:?}"), vec![family]));
                        }
                    }
                }
                let compiled = s.compiled.rule(rule).expect("compiled");
                let initial = compiled.initial_plan.as_ref().expect("initial");
                let original = runtime
                    .block_on(execute(&pruned(reference_plan(initial)), &tables))
                    .map(|b| rows(&b))
                    .unwrap_or_else(|e| panic!("{name}/{rule}: {e}"));
                for (family, families) in mutants {
                    let Some(mutant) = mutate::invariant(sql, &families) else {
                        continue;
                    };
                    let plan =
                        initial_plan_of_sql(&s.pack, &s.compiled, rule, &mutant, s.pack.dialect)
                            .unwrap_or_else(|e| panic!("{name}/{rule} {family}: {e}\n{mutant}"));
                    let result = runtime.block_on(execute(&pruned(reference_plan(&plan)), &tables));
                    match result {
                        Ok(batches) if same_rows(&original, &rows(&batches)) => {
                            *tally.entry(family).or_default() += 1;
                        }
                        Ok(batches) => failures.push(format!(
                            "{name}/{rule} {family}: {} rows, the original {}\n{mutant}",
                            batches.iter().map(|b| b.num_rows()).sum::<usize>(),
                            original.len()
                        )),
                        Err(e) => failures.push(format!("{name}/{rule} {family}: {e}\n{mutant}")),
                    }
                }
            }
            println!("{name}: {:.1} s", started.elapsed().as_secs_f64());
        }
        println!("same rows on data, per family: {tally:?}");
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
        for family in Invariant::ALL.iter().map(|f| format!("{f:?}")) {
            assert!(
                tally.get(&family).is_some_and(|n| *n > 0),
                "no {family} mutant ran on data"
            );
        }
        assert_eq!(tally.get("AllCombined"), Some(&(9 + 25 + 22)));
    });
}

#[test]
#[expect(clippy::print_stdout, reason = "the tallies are the proof's report")]
fn meaning_changing_mutants_move_the_fingerprint_and_the_results() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rulec_compile::with_planning_stack(|| {
        let mut tally = Tally::new();
        let mut differ_on_data: BTreeMap<String, usize> = BTreeMap::new();
        let mut same_on_data = Vec::new();
        let mut proven_equivalent = Vec::new();
        let mut proven_dead = Vec::new();
        let mut failures = Vec::new();
        for (name, _) in PACKS {
            let s = subject(name);
            // TPC-DS is plan-only: its mutants are held to the fingerprint check.
            let tables = runtime.block_on(pack_tables(name, &s.pack, &s.compiled));
            for (rule, sql, original) in s.rules() {
                // cpg_graph_by_file aggregates every node and edge: about 3 s per run in a
                // debug build, times each mutant. Its mutants are held to the fingerprint
                // check only.
                let tables = tables.as_ref().filter(|_| rule != "cpg_graph_by_file");
                let mut original_rows = None;
                for family in Sensitive::ALL {
                    let Some(mutant) = mutate::sensitive(sql, family) else {
                        continue;
                    };
                    let family = format!("{family:?}");
                    let Ok(plan) = plan_sql(&s.pack, &s.compiled, rule, &mutant) else {
                        // A mutant the planner rejects (a type error) means nothing.
                        continue;
                    };
                    let entry = tally.entry(family.clone()).or_default();
                    entry.0 += 1;
                    if fingerprint(&Pipeline::new(), &plan) == original {
                        // An inner join made LEFT under a later null-rejecting condition is
                        // still an inner join: the engine's outer-join elimination proves it.
                        let canonical = s.compiled.rule(rule).and_then(|c| c.plan.as_ref());
                        if family == "JoinTypeChanged"
                            && left_joins(&plan) == left_joins(canonical.expect("plan"))
                        {
                            proven_equivalent.push(format!("{name}/{rule} {family}"));
                            entry.0 -= 1;
                            continue;
                        }
                        // An aggregate changed in a column nothing reads is pruned by the
                        // pipeline: the canonical plans then hold the same aggregates.
                        if matches!(family.as_str(), "AggregateChanged" | "DistinctAdded")
                            && aggregates(&plan) == aggregates(canonical.expect("plan"))
                        {
                            proven_dead.push(format!("{name}/{rule} {family}"));
                            entry.0 -= 1;
                            continue;
                        }
                        entry.1 += 1;
                        failures.push(format!(
                            "{name}/{rule} {family}: same fingerprint\n{mutant}"
                        ));
                        continue;
                    }
                    let Some(tables) = tables else {
                        continue;
                    };
                    let original_rows = original_rows.get_or_insert_with(|| {
                        let canonical = s.compiled.rule(rule).and_then(|c| c.plan.as_ref());
                        runtime
                            .block_on(execute(canonical.expect("plan"), tables))
                            .map(|b| rows(&b))
                            .unwrap_or_else(|e| panic!("{name}/{rule}: {e}"))
                    });
                    let mutant_rows = runtime
                        .block_on(execute(&plan, tables))
                        .map(|b| rows(&b))
                        .unwrap_or_else(|e| panic!("{name}/{rule} {family}: {e}\n{mutant}"));
                    if same_rows(original_rows, &mutant_rows) {
                        same_on_data.push(format!("{name}/{rule} {family}"));
                    } else {
                        *differ_on_data.entry(family).or_default() += 1;
                    }
                }
            }
        }
        println!(
            "{}",
            report("sensitivity (same fingerprint / generated)", &tally)
        );
        println!("results differ on data: {differ_on_data:?}");
        println!("results equal on this data: {same_on_data:?}");
        println!("equivalent, the engine eliminates the outer join: {proven_equivalent:?}");
        println!("equivalent, the changed aggregate is in a column nothing reads: {proven_dead:?}");
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
        for family in Sensitive::ALL {
            let family = format!("{family:?}");
            assert!(
                differ_on_data.get(&family).is_some_and(|n| *n > 0),
                "no {family} mutant changes results on the data"
            );
        }
    });
}

/// The nested-data families proven the other way: a mutant of each family that also
/// changes meaning (a literal, a comparison, a struct field in a path, two columns) does
/// not share the original's fingerprint. So a spelling that keeps the fingerprint does not
/// do so by losing what the rule computes.
#[test]
#[expect(clippy::print_stdout, reason = "the tally is the proof's report")]
fn nested_families_with_a_change_of_meaning_move_the_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let nested = [
            Invariant::FieldAccessSpelling,
            Invariant::FlattenEarly,
            Invariant::SubqueryLayering,
            Invariant::LateralUnnest,
            Invariant::StructAliasRenaming,
        ];
        let changes = [
            Sensitive::LiteralChanged,
            Sensitive::ComparisonFlipped,
            Sensitive::FieldPathChanged,
            Sensitive::ColumnSwapped,
        ];
        let mut tally = Tally::new();
        let mut failures = Vec::new();
        for name in ["cpg", "nested"] {
            let s = subject(name);
            for (rule, sql, original) in s.rules() {
                for family in nested {
                    let Some(spelled) = mutate::invariant(sql, &[family]) else {
                        continue;
                    };
                    for change in changes {
                        let Some(mutant) = mutate::sensitive(&spelled, change) else {
                            continue;
                        };
                        let Ok(plan) = plan_sql(&s.pack, &s.compiled, rule, &mutant) else {
                            continue; // A change the planner rejects (a type error).
                        };
                        let entry = tally.entry(format!("{family:?} + {change:?}")).or_default();
                        entry.0 += 1;
                        if fingerprint(&Pipeline::new(), &plan) == original {
                            entry.1 += 1;
                            failures
                                .push(format!("{name}/{rule} {family:?} + {change:?}\n{mutant}"));
                        }
                    }
                }
            }
        }
        println!(
            "{}",
            report(
                "nested families with a change of meaning (same fingerprint / generated)",
                &tally
            )
        );
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
        for family in nested {
            assert!(
                tally
                    .iter()
                    .any(|(k, (n, _))| k.starts_with(&format!("{family:?} +")) && *n > 0),
                "family {family:?} has no mutant with a change of meaning"
            );
        }
    });
}

/// Every aggregate expression of `plan` (aliases removed), as text, with multiplicity.
fn aggregates(plan: &rulec_compile::datafusion_expr::LogicalPlan) -> Vec<String> {
    use rulec_compile::datafusion_common::tree_node::TreeNodeRecursion;
    use rulec_compile::datafusion_expr::LogicalPlan;
    let mut out = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Aggregate(aggregate) = node {
            out.extend(
                aggregate
                    .aggr_expr
                    .iter()
                    .map(|e| e.clone().unalias_nested().data.to_string()),
            );
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .expect("walk");
    out.sort();
    out
}

/// The number of left outer joins in `plan`.
fn left_joins(plan: &rulec_compile::datafusion_expr::LogicalPlan) -> usize {
    use rulec_compile::datafusion_common::tree_node::{TreeNode as _, TreeNodeRecursion};
    use rulec_compile::datafusion_expr::{JoinType, LogicalPlan};
    let mut count = 0;
    let _ = plan.apply(|node| {
        if let LogicalPlan::Join(join) = node
            && join.join_type == JoinType::Left
        {
            count += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    });
    count
}

#[test]
fn canonical_plans_give_the_rows_of_the_reference_plans() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rulec_compile::with_planning_stack(|| {
        let mut compared = 0;
        for name in ["cpg", "nested", "tpch"] {
            let s = subject(name);
            let tables = runtime
                .block_on(pack_tables(name, &s.pack, &s.compiled))
                .expect("a pack with data");
            for rule in &s.compiled.rules {
                let canonical = rule.plan.as_ref().expect("plan");
                let reference = reference_plan(rule.initial_plan.as_ref().expect("initial"));
                let (a, b) = runtime.block_on(async {
                    (
                        execute(canonical, &tables).await,
                        execute(&reference, &tables).await,
                    )
                });
                let a = rows(&a.unwrap_or_else(|e| panic!("{name}/{}: {e}", rule.name)));
                let b = rows(&b.unwrap_or_else(|e| panic!("{name}/{} reference: {e}", rule.name)));
                // Every rule returns rows on this data, the 22 TPC-H queries at SF 0.01 too.
                assert!(!b.is_empty(), "{name}/{}: no rows", rule.name);
                assert!(
                    same_rows(&a, &b),
                    "{name}/{}: canonical {} rows, reference {} rows",
                    rule.name,
                    a.len(),
                    b.len()
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 9 + 25 + 22);
    });
}

/// Two families applied one after the other, in both orders, on the nested-data rules: the
/// nested families with the structural ones authors combine them with.
#[test]
#[expect(clippy::print_stdout, reason = "the tally is the proof's report")]
fn pairs_of_families_keep_the_fingerprint_on_nested_rules() {
    rulec_compile::with_planning_stack(|| {
        let families = [
            Invariant::FieldAccessSpelling,
            Invariant::FlattenEarly,
            Invariant::SubqueryLayering,
            Invariant::LateralUnnest,
            Invariant::StructAliasRenaming,
            Invariant::AliasRenaming,
            Invariant::CteToDerived,
            Invariant::DerivedToCte,
            Invariant::OperandOrder,
            Invariant::OnToWhere,
        ];
        let (mut generated, mut kept) = (0, 0);
        let mut failures = Vec::new();
        for name in ["cpg", "nested"] {
            let s = subject(name);
            for (rule, sql, original) in s.rules() {
                for (i, a) in families.iter().enumerate() {
                    for b in &families[i + 1..] {
                        for order in [[*a, *b], [*b, *a]] {
                            let Some(mutant) = mutate::invariant(sql, &order) else {
                                continue;
                            };
                            match s.check_invariant(rule, sql, original, &mutant) {
                                Checked::Kept => {
                                    generated += 1;
                                    kept += 1;
                                }
                                Checked::RenamesOutput => {}
                                Checked::DoesNotPlan(why) => {
                                    failures.push(format!("{name}/{rule} {order:?}: {why}"));
                                }
                                Checked::Moved(why) => {
                                    generated += 1;
                                    failures.push(format!("{name}/{rule} {order:?}: {why}"));
                                }
                            }
                        }
                    }
                }
            }
        }
        println!("pairs of families on nested rules (kept / generated): {kept} / {generated}");
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
        assert!(generated > 0);
    });
}
