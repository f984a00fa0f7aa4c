//! Shared code of the fuzz targets: the embedded packs, `rulec check` as the CLI runs it (in
//! memory), and a DataFusion session with the contract tables registered for consuming
//! Substrait plans.
//!
//! Everything a target calls is a real code path: packs are checked by the driver
//! (`rulec_driver::Project`, what `rulec check` calls), and diagnostics go through the
//! human, JSON and SARIF renderings (as `rulec check` prints them).

pub mod grammar;
pub mod targets;
#[cfg(test)]
mod tests;

use datafusion::datasource::MemTable;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use rulec_compile::{CompiledPack, with_planning_stack};
use rulec_contract::{Contract, parse_contract, render_type};
use rulec_diagnostics::{Diagnostic, render_human, to_json, to_sarif};
use rulec_pack::{Pack, PackFiles};
use rulec_substrait::SubstraitError;
use rulec_substrait::substrait::proto::Plan;
use std::sync::{Arc, LazyLock};

/// `rules/cpg/pack.yaml`.
pub const CPG_PACK_YAML: &str = include_str!("../../../rules/cpg/pack.yaml");

/// The CPG contracts (`rules/cpg/contracts`), as pack-relative paths and text.
pub const CPG_CONTRACTS: &[(&str, &str)] = &[
    (
        "contracts/libcst_files.yaml",
        include_str!("../../../rules/cpg/contracts/libcst_files.yaml"),
    ),
    (
        "contracts/scip_occurrences.yaml",
        include_str!("../../../rules/cpg/contracts/scip_occurrences.yaml"),
    ),
    (
        "contracts/scip_symbols.yaml",
        include_str!("../../../rules/cpg/contracts/scip_symbols.yaml"),
    ),
    (
        "contracts/symtable_files.yaml",
        include_str!("../../../rules/cpg/contracts/symtable_files.yaml"),
    ),
];

/// The TPC-H contracts (`rules/tpch/contracts`).
pub const TPCH_CONTRACTS: &[(&str, &str)] = &[
    (
        "contracts/customer.yaml",
        include_str!("../../../rules/tpch/contracts/customer.yaml"),
    ),
    (
        "contracts/lineitem.yaml",
        include_str!("../../../rules/tpch/contracts/lineitem.yaml"),
    ),
    (
        "contracts/nation.yaml",
        include_str!("../../../rules/tpch/contracts/nation.yaml"),
    ),
    (
        "contracts/orders.yaml",
        include_str!("../../../rules/tpch/contracts/orders.yaml"),
    ),
    (
        "contracts/part.yaml",
        include_str!("../../../rules/tpch/contracts/part.yaml"),
    ),
    (
        "contracts/partsupp.yaml",
        include_str!("../../../rules/tpch/contracts/partsupp.yaml"),
    ),
    (
        "contracts/region.yaml",
        include_str!("../../../rules/tpch/contracts/region.yaml"),
    ),
    (
        "contracts/supplier.yaml",
        include_str!("../../../rules/tpch/contracts/supplier.yaml"),
    ),
];

/// The inputs `t` and `u` of the `rulec check` fixtures (`tests/fixtures/check/_base`), so the
/// fixture rules of the seed corpus plan too.
pub const FIXTURE_CONTRACTS: &[(&str, &str)] = &[
    (
        "contracts/t.yaml",
        include_str!("../../../tests/fixtures/check/_base/contracts/t.yaml"),
    ),
    (
        "contracts/u.yaml",
        include_str!("../../../tests/fixtures/check/_base/contracts/u.yaml"),
    ),
];

/// The name of the fuzzed rule file in the in-memory packs.
pub const RULE_FILE: &str = "rule.sql";

/// Every embedded contract: CPG, TPC-H and the check fixtures' base (no table name is shared).
pub fn all_contract_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    CPG_CONTRACTS
        .iter()
        .chain(TPCH_CONTRACTS)
        .chain(FIXTURE_CONTRACTS)
        .copied()
}

/// The embedded contracts, parsed once (they are valid: a failure here is a bug in the
/// harness or in the contract loader).
pub static CONTRACTS: LazyLock<Vec<Contract>> = LazyLock::new(|| {
    all_contract_files()
        .map(|(path, text)| {
            parse_contract(path, text)
                .unwrap_or_else(|d| panic!("embedded contract {path} does not load: {d:?}"))
        })
        .collect()
});

/// An in-memory pack: the CPG `pack.yaml`, every embedded contract and one rule file
/// `rule.sql` holding `rule` (bytes as they would be read from disk).
pub fn pack_with_rule(rule: Vec<u8>) -> PackFiles {
    pack_with_rule_and_manifest(CPG_PACK_YAML.as_bytes().to_vec(), rule)
}

/// As [`pack_with_rule`], with another `pack.yaml`.
pub fn pack_with_rule_and_manifest(manifest: Vec<u8>, rule: Vec<u8>) -> PackFiles {
    let mut files: Vec<(String, Vec<u8>)> = vec![("pack.yaml".to_owned(), manifest)];
    files.extend(
        all_contract_files().map(|(path, text)| (path.to_owned(), text.as_bytes().to_vec())),
    );
    files.push((RULE_FILE.to_owned(), rule));
    PackFiles::from_memory("fuzz", files)
}

/// What `rulec check` computes for a pack.
pub struct Checked {
    pub pack: Option<Pack>,
    pub compiled: Option<CompiledPack>,
    /// Every finding, lint levels applied, sorted (what `rulec check` prints).
    pub diagnostics: Vec<Diagnostic>,
}

/// `rulec check` on an in-memory pack, on a planning-sized stack as the CLI runs it
/// (`main` runs every command inside `with_planning_stack`), then every rendering of the
/// findings.
pub fn check(files: &PackFiles) -> Checked {
    let checked = with_planning_stack(|| check_here(files));
    render_all(files, &checked.diagnostics);
    if let Some(compiled) = &checked.compiled {
        // The JSON report renders every output column's type.
        for rule in &compiled.rules {
            if let Some(schema) = &rule.output_schema {
                for field in schema.fields() {
                    let _ = render_type(field.data_type());
                }
            }
        }
    }
    checked
}

/// The driver's check, as `rulec check` runs it.
fn check_here(files: &PackFiles) -> Checked {
    let project = rulec_driver::Project::from_files(std::path::Path::new("fuzz"), files.clone());
    Checked {
        diagnostics: project.all_diagnostics(),
        pack: project.pack,
        compiled: project.compiled,
    }
}

/// Renders diagnostics as `rulec check` does in each `--format`: human (with the source
/// snippet of the file the diagnostic names, plain and coloured), JSON and SARIF.
pub fn render_all(files: &PackFiles, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        let source = d
            .file
            .as_deref()
            .and_then(|f| files.text(f))
            .and_then(Result::ok);
        let _ = render_human(d, source, false);
        let _ = render_human(d, source, true);
        let _ = to_json(d);
    }
    let _ = to_sarif(diagnostics, "0.0.0-fuzz");
}

/// The run-time session of `rulec-exec` (`runtime_session`: rulec's planning options,
/// DataFusion's default functions, no information schema), with every embedded contract
/// registered as an empty in-memory table of its schema.
pub static SESSION: LazyLock<SessionState> = LazyLock::new(|| {
    let config =
        SessionConfig::from(rulec_compile::planning_options()).with_information_schema(false);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    for contract in CONTRACTS.iter() {
        let table = MemTable::try_new(Arc::clone(&contract.schema), vec![vec![]])
            .unwrap_or_else(|e| panic!("cannot make table {}: {e}", contract.table));
        ctx.register_table(contract.table.as_str(), Arc::new(table))
            .unwrap_or_else(|e| panic!("cannot register table {}: {e}", contract.table));
    }
    ctx.state()
});

/// `rulec_substrait::from_substrait` against [`SESSION`], on a planning-sized stack.
pub fn consume(plan: &Plan) -> Result<LogicalPlan, SubstraitError> {
    with_planning_stack(|| {
        futures::executor::block_on(rulec_substrait::from_substrait(&SESSION, plan))
    })
}

/// Field names and types of a plan's output, for comparing two plans' schemas.
pub fn output_fields(plan: &LogicalPlan) -> Vec<(String, datafusion::arrow::datatypes::DataType)> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}
