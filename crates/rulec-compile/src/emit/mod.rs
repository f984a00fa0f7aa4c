//! Canonical SQL for an engine (`rulec plan --dialect`). The canonical plan is made
//! printable ([`printable`]: map lookups told from struct fields by type), printed by
//! DataFusion's unparser through the dialect policy's [`printer::Printer`] (quoting, types,
//! struct, map and list spellings), finished on the statement ([`statement`]: select-list
//! unnests as `explode` or `CROSS JOIN UNNEST`), and kept only if it reads back through
//! rulec's reader for that dialect to the rule's fingerprint. What the engine cannot express
//! (the policy's `unsupported:`) is named in notes beside the SQL.

mod printable;
mod printer;
mod statement;

use crate::{CompiledPack, CompiledRule, Pipeline, fingerprint, first_line, plan_sql_in};
use datafusion_expr::LogicalPlan;
use rulec_pack::Pack;
use rulec_syntax::SqlDialect;

/// Canonical SQL printed for one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSql {
    pub sql: String,
    /// What the SQL uses that the engine cannot express, one note per construct
    /// (`struct: why`), from the dialect policy's `unsupported:`.
    pub unsupported: Vec<String>,
}

/// The canonical SQL of a rule in DataFusion's dialect: the canonical plan printed by the
/// unparser, kept only if it plans back to the rule's fingerprint (else the initial plan's,
/// under the same check); otherwise why there is none.
pub fn canonical_sql(
    pack: &Pack,
    compiled: &CompiledPack,
    rule_name: &str,
) -> Result<String, String> {
    canonical_sql_for(pack, compiled, rule_name, SqlDialect::DataFusion).map(|e| e.sql)
}

/// The canonical SQL of a rule written for `dialect`'s engine, kept only if it reads back
/// through rulec's reader for that dialect to the rule's fingerprint; otherwise why it cannot
/// be printed for that engine.
pub fn canonical_sql_for(
    pack: &Pack,
    compiled: &CompiledPack,
    rule_name: &str,
    dialect: SqlDialect,
) -> Result<EngineSql, String> {
    crate::with_planning_stack(|| canonical_sql_here(pack, compiled, rule_name, dialect))
}

fn canonical_sql_here(
    pack: &Pack,
    compiled: &CompiledPack,
    rule_name: &str,
    dialect: SqlDialect,
) -> Result<EngineSql, String> {
    let rule = compiled
        .rule(rule_name)
        .ok_or_else(|| format!("no rule `{rule_name}`"))?;
    let plan = rule.plan.as_ref().ok_or("the rule does not compile")?;
    let from_canonical = print_checked(pack, compiled, rule, plan, dialect);
    if from_canonical.is_ok() {
        return from_canonical;
    }
    if let Some(initial) = &rule.initial_plan
        && let Ok(sql) = print_checked(pack, compiled, rule, initial, dialect)
    {
        return Ok(sql);
    }
    from_canonical
}

/// Prints `plan` for `dialect`'s engine and checks that it reads back to the rule's
/// fingerprint.
fn print_checked(
    pack: &Pack,
    compiled: &CompiledPack,
    rule: &CompiledRule,
    plan: &LogicalPlan,
    dialect: SqlDialect,
) -> Result<EngineSql, String> {
    let engine = dialect.name();
    let printer = printer::Printer::new(dialect.policy());
    let plan = printable::for_printing(plan).map_err(|e| {
        format!(
            "the plan cannot be prepared for printing: {}",
            first_line(&crate::clean_message(&e))
        )
    })?;
    let statement = datafusion_sql::unparser::Unparser::new(&printer)
        .plan_to_sql(&plan)
        .map_err(|e| {
            format!(
                "the {engine} printer cannot print this plan: {}",
                first_line(&crate::clean_message(&e))
            )
        })?;
    let mut statement = statement;
    statement::finish(&mut statement, dialect.policy(), &printer);
    // sqlparser's pretty form: one clause per line, so that diffs of canonical SQL read well.
    let sql = format!("{statement:#}");
    let replanned = plan_sql_in(pack, compiled, &rule.name, &sql, dialect).map_err(|e| {
        format!(
            "the SQL printed for {engine} does not plan back through rulec's {engine} reader: {}",
            first_line(&e)
        )
    })?;
    let pipeline = Pipeline::new();
    if Some(fingerprint(&pipeline, &replanned)) == rule.fingerprint {
        Ok(EngineSql {
            sql,
            unsupported: printer.notes(),
        })
    } else {
        Err(format!(
            "the SQL printed for {engine} plans back to a different plan"
        ))
    }
}
