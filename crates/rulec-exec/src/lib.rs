//! Execution: runs each rule's Substrait plan on DataFusion, in dependency order, and
//! writes each product as Parquet.
//!
//! Architecture invariant: this is the only crate that writes files. Products are written
//! into a temporary directory beside their final place and moved there when complete, so a
//! failed run leaves the previous product as it was. Upstream products are read from what
//! this run (or an earlier one) materialized, never recomputed.

mod inputs;
mod session;
mod write;

pub use inputs::{InputCheck, check_input};
pub use session::runtime_session;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use rulec_compile::CompiledPack;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::Pack;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run and where.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The pack's directory (input paths in pack.yaml are relative to it).
    pub pack_root: PathBuf,
    /// Read input paths relative to this directory instead of the pack root.
    pub data_dir: Option<PathBuf>,
    /// Where products are written: `<out>/<product>/`.
    pub out_dir: PathBuf,
    /// Build only these products (and what they read). Empty = all.
    pub only: Vec<String>,
}

/// What happened to one product.
#[derive(Debug, Clone)]
pub enum ProductStatus {
    Built {
        rows: u64,
        files: usize,
        elapsed: Duration,
    },
    Failed(Diagnostic),
    /// Not built because a product it reads was not built.
    Skipped(Diagnostic),
}

#[derive(Debug, Clone)]
pub struct ProductReport {
    pub name: String,
    pub status: ProductStatus,
    /// The product's directory.
    pub path: PathBuf,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Problems found before any product was built (inputs).
    pub diagnostics: Vec<Diagnostic>,
    pub products: Vec<ProductReport>,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        !rulec_diagnostics::has_errors(&self.diagnostics)
            && self
                .products
                .iter()
                .all(|p| matches!(p.status, ProductStatus::Built { .. }))
    }
}

/// Runs the compiled pack. `compiled` must come from `pack`.
pub async fn run(pack: &Pack, compiled: &CompiledPack, options: &RunOptions) -> RunReport {
    let mut report = RunReport::default();
    let wanted = wanted_rules(pack, &options.only);
    let ctx = SessionContext::new_with_state(runtime_session());

    // Inputs first: every input a wanted rule reads must exist and match its contract.
    let needed_inputs: BTreeSet<&String> = pack
        .rules
        .iter()
        .filter(|r| wanted.contains(&r.name))
        .flat_map(|r| r.upstream_inputs.iter())
        .collect();
    let mut inputs_ok = true;
    for table in needed_inputs {
        let contract = &pack.contracts[table];
        let Some(declared) = pack.manifest.inputs.get(table) else {
            report.diagnostics.push(
                Diagnostic::error(
                    codes::INPUT_MISSING,
                    format!("input `{table}` has no data path in pack.yaml `inputs`"),
                )
                .in_file("pack.yaml")
                .with_help(format!(
                    "add `{table}: <path to Parquet file or directory>` under `inputs:`"
                )),
            );
            inputs_ok = false;
            continue;
        };
        let base = options.data_dir.as_deref().unwrap_or(&options.pack_root);
        let path = resolve(base, declared);
        match check_input(&ctx.state(), table, &path, contract).await {
            InputCheck::Ok(provider) => {
                if let Err(e) = ctx.register_table(table.as_str(), provider) {
                    report.diagnostics.push(Diagnostic::error(
                        codes::EXECUTION_FAILED,
                        format!("cannot register input `{table}`: {e}"),
                    ));
                    inputs_ok = false;
                }
            }
            InputCheck::Failed(ds) => {
                report.diagnostics.extend(ds);
                inputs_ok = false;
            }
        }
    }
    if !inputs_ok {
        return report;
    }

    let mut built: BTreeSet<String> = BTreeSet::new();
    for rule in &pack.rules {
        if !wanted.contains(&rule.name) {
            continue;
        }
        let product_dir = options.out_dir.join(&rule.name);
        let Some(compiled_rule) = compiled.rule(&rule.name) else {
            continue;
        };
        let missing: Vec<&String> = rule
            .upstream_rules
            .iter()
            .filter(|u| !built.contains(*u))
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            report.products.push(ProductReport {
                name: rule.name.clone(),
                path: product_dir,
                status: ProductStatus::Skipped(
                    Diagnostic::error(
                        codes::PRODUCT_SKIPPED,
                        format!(
                            "not built: it reads {} which was not built",
                            names.join(", ")
                        ),
                    )
                    .in_file(rule.file.clone()),
                ),
            });
            continue;
        }
        let (Some(plan), Some(schema)) = (&compiled_rule.plan, &compiled_rule.output_schema) else {
            let first = compiled_rule
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .cloned()
                .unwrap_or_else(|| {
                    Diagnostic::error(codes::EXECUTION_FAILED, "the rule did not compile")
                        .in_file(rule.file.clone())
                });
            report.products.push(ProductReport {
                name: rule.name.clone(),
                path: product_dir,
                status: ProductStatus::Failed(first),
            });
            continue;
        };
        let started = Instant::now();
        let outcome = build_product(&ctx.state(), plan, schema, &options.out_dir, &rule.name).await;
        let status = match outcome {
            Ok((rows, files)) => {
                match register_product(&ctx, &rule.name, &product_dir, schema).await {
                    Ok(()) => {
                        built.insert(rule.name.clone());
                        ProductStatus::Built {
                            rows,
                            files,
                            elapsed: started.elapsed(),
                        }
                    }
                    Err(d) => ProductStatus::Failed(d.in_file(rule.file.clone())),
                }
            }
            Err(d) => ProductStatus::Failed(d.in_file(rule.file.clone())),
        };
        report.products.push(ProductReport {
            name: rule.name.clone(),
            path: product_dir,
            status,
        });
    }
    report
}

/// The wanted rules and everything they read (transitively).
fn wanted_rules(pack: &Pack, only: &[String]) -> BTreeSet<String> {
    if only.is_empty() {
        return pack.rules.iter().map(|r| r.name.clone()).collect();
    }
    let by_name: BTreeMap<&str, &rulec_pack::Rule> =
        pack.rules.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut wanted = BTreeSet::new();
    let mut stack: Vec<String> = only.to_vec();
    while let Some(name) = stack.pop() {
        if wanted.insert(name.clone())
            && let Some(rule) = by_name.get(name.as_str())
        {
            stack.extend(rule.upstream_rules.iter().cloned());
        }
    }
    wanted
}

fn resolve(base: &Path, declared: &str) -> PathBuf {
    let p = Path::new(declared);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

async fn build_product(
    state: &SessionState,
    plan: &datafusion::logical_expr::LogicalPlan,
    schema: &SchemaRef,
    out_dir: &Path,
    name: &str,
) -> Result<(u64, usize), Diagnostic> {
    // The artifact that runs is the Substrait plan: encode, decode, consume.
    let substrait = rulec_substrait::to_substrait(plan)
        .map_err(|e| Diagnostic::error(codes::UNENCODABLE_PLAN, e.to_string()))?;
    let bytes = rulec_substrait::encode(&substrait);
    let decoded = rulec_substrait::decode(&bytes)
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    let logical = rulec_substrait::from_substrait(state, &decoded)
        .await
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    write::write_product(state, logical, Arc::clone(schema), out_dir, name, &bytes).await
}

async fn register_product(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    schema: &SchemaRef,
) -> Result<(), Diagnostic> {
    let provider = inputs::listing_table(&ctx.state(), dir, Arc::clone(schema)).map_err(|e| {
        Diagnostic::error(
            codes::EXECUTION_FAILED,
            format!("cannot read product `{name}` back: {e}"),
        )
    })?;
    ctx.deregister_table(name)
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    ctx.register_table(name, provider)
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests;
