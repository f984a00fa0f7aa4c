//! Proofs of canonical identity, over the CPG, TPC-H and TPC-DS packs:
//!
//! - idempotence: the pipeline applied to a canonical plan changes nothing;
//! - canonical SQL plans back to the rule's fingerprint wherever it can be printed;
//! - invariance: meaning-preserving mutants (see `mutate.rs`) keep the fingerprint;
//! - sensitivity: meaning-changing mutants move it, and their results differ on data
//!   (TPC-H and CPG; TPC-DS has no data);
//! - semantic preservation: canonical plans give the rows of the reference plans.
//!
//! Each test prints its tally per family (`cargo test -- --nocapture` shows it).

use crate::execute::{execute, pack_tables, reference_plan, rows, same_rows};
use crate::mutate::{self, Invariant, Sensitive};
use crate::support::{compile, root};
use rulec_compile::{CompiledPack, Pipeline, canonical_sql, encode_plan, fingerprint, plan_sql};
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

struct Subject {
    pack: Pack,
    compiled: CompiledPack,
}

fn subject(name: &'static str) -> Subject {
    let (pack, compiled) = compile(&root().join("rules").join(name));
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
    fn fingerprint_of(&self, rule: &str, sql: &str) -> Result<String, String> {
        let plan = plan_sql(&self.pack, &self.compiled, rule, sql)?;
        Ok(fingerprint(&Pipeline::new(), &plan))
    }

    /// The output column names of rule `rule`.
    fn output_names(&self, rule: &str) -> Vec<String> {
        let plan = self.compiled.rule(rule).and_then(|c| c.plan.as_ref());
        let schema = plan.expect("plan").schema();
        schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// How the encodings of two queries differ, both planned as rule `rule` (for failures).
    fn encoding_diff(&self, rule: &str, a: &str, b: &str) -> String {
        let pipeline = Pipeline::new();
        let encode = |sql: &str| {
            plan_sql(&self.pack, &self.compiled, rule, sql)
                .map(|p| encode_plan(&pipeline, &p).replace(" (", "\n("))
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
        for name in ["cpg", "tpch", "tpcds"] {
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
        assert_eq!(checked, 9 + 22 + 103);
    });
}

#[test]
fn canonical_sql_plans_back_to_the_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let mut not_printable = Vec::new();
        let mut printed = 0;
        for name in ["cpg", "tpch", "tpcds"] {
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
        assert_eq!(printed + NOT_PRINTABLE.len(), 9 + 22 + 103);
    });
}

/// Per family: (mutants generated, mutants with the original's fingerprint).
type Tally = BTreeMap<String, (usize, usize)>;

fn report(title: &str, tally: &Tally) -> String {
    let mut text = format!("{title}\n");
    for (family, (generated, kept)) in tally {
        let _ = writeln!(text, "  {family:<28} {kept:>4} / {generated:<4}");
    }
    text
}

#[test]
#[allow(clippy::print_stdout)] // The tallies are the proof's report.
fn meaning_preserving_mutants_keep_the_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let mut tally = Tally::new();
        let mut renamed_outputs = Vec::new();
        let mut failures = Vec::new();
        let mut families: Vec<(String, Vec<Invariant>)> = Invariant::ALL
            .iter()
            .map(|f| (format!("{f:?}"), vec![*f]))
            .collect();
        families.push(("AllCombined".to_owned(), Invariant::ALL.to_vec()));
        for name in ["cpg", "tpch", "tpcds"] {
            let s = subject(name);
            for (rule, sql, original) in s.rules() {
                for (family, mutations) in &families {
                    let Some(mutant) = mutate::invariant(sql, mutations) else {
                        continue;
                    };
                    let plan = match plan_sql(&s.pack, &s.compiled, rule, &mutant) {
                        Ok(plan) => plan,
                        Err(e) => {
                            failures.push(format!(
                                "{name}/{rule} {family}: the mutant does not plan: {e}\n{mutant}"
                            ));
                            continue;
                        }
                    };
                    // An unaliased `sum(t.x)` is named after its alias `t`: renaming `t`
                    // renames the product's column, which is a change of meaning.
                    let names: Vec<String> = plan
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect();
                    if names != s.output_names(rule) {
                        renamed_outputs.push(format!("{name}/{rule} {family}"));
                        continue;
                    }
                    let entry = tally.entry(family.clone()).or_default();
                    entry.0 += 1;
                    if fingerprint(&Pipeline::new(), &plan) == original {
                        entry.1 += 1;
                    } else {
                        failures.push(format!(
                            "{name}/{rule} {family}: fingerprint moved\n{mutant}\n{}",
                            s.encoding_diff(rule, sql, &mutant)
                        ));
                    }
                }
            }
        }
        println!("{}", report("invariance (kept / generated)", &tally));
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

#[test]
#[allow(clippy::print_stdout)] // The tallies are the proof's report.
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
        for name in ["cpg", "tpch", "tpcds"] {
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
        for name in ["cpg", "tpch"] {
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
                assert!(
                    !b.is_empty() || name == "tpch",
                    "{name}/{}: no rows",
                    rule.name
                );
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
        assert_eq!(compared, 9 + 22);
    });
}

#[test]
fn equivalent_spellings_share_a_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let s = subject("tpch");
        let pairs = [
            (
                "SELECT count(*) AS n FROM orders",
                "SELECT count(1) AS n FROM orders",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE o_orderstatus != 'F'",
                "SELECT o_orderkey FROM orders WHERE o_orderstatus <> 'F'",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE NOT (o_totalprice > 100)",
                "SELECT o_orderkey FROM orders WHERE o_totalprice <= 100",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE o_custkey BETWEEN 10 AND 20",
                "SELECT o_orderkey FROM orders WHERE 20 >= o_custkey AND o_custkey >= 10",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE o_custkey IN (3, 1, 2, 1)",
                "SELECT o_orderkey FROM orders WHERE o_custkey IN (1, 2, 3)",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE (o_custkey = 1 AND o_shippriority = 0) \
                 OR (o_custkey = 1 AND o_orderstatus = 'F')",
                "SELECT o_orderkey FROM orders WHERE o_custkey = 1 \
                 AND (o_orderstatus = 'F' OR o_shippriority = 0)",
            ),
            (
                "SELECT o.o_orderkey FROM orders o JOIN customer c ON o.o_custkey = c.c_custkey \
                 WHERE c.c_nationkey = 3",
                "WITH cust AS (SELECT * FROM customer) SELECT x.o_orderkey \
                 FROM orders AS x, cust WHERE 3 = cust.c_nationkey AND cust.c_custkey = x.o_custkey",
            ),
        ];
        for (a, b) in pairs {
            let (fa, fb) = (s.fingerprint_of("q01", a), s.fingerprint_of("q01", b));
            assert!(fa.is_ok(), "{a}: {fa:?}");
            assert_eq!(fa, fb, "\n{a}\n{b}\n{}", s.encoding_diff("q01", a, b));
        }
        // And a one-character change of a literal moves it.
        assert_ne!(
            s.fingerprint_of("q01", "SELECT o_orderkey FROM orders WHERE o_custkey = 12"),
            s.fingerprint_of("q01", "SELECT o_orderkey FROM orders WHERE o_custkey = 13"),
        );
    });
}
