//! Replaying a product: its stored Substrait plan (`_rulec/plan-….substrait`, the bytes the
//! product was computed from) run again, in the sandboxed consumer, against what the
//! product was built from, and the result compared with what the product holds.
//!
//! What it was built from is what its build id records: a replay runs only when the pack's
//! build id for the product is still the manifest's (same rule, inputs, settings, rulec),
//! and reads the products it reads as they are (each must be current; none is built). The
//! plan file must be the manifest's byte for byte, and the consumer lets it read only the
//! pack's declared inputs and products. The rows are written as a build writes them, with
//! the same checks, order and layout, into a staging directory that is removed afterwards;
//! the row count (and refused rows) must be the manifest's and, for a sorted product, every
//! file's SHA-256 too. Nothing published changes.

use crate::build::{output_checks, slice_plans, write_target};
use crate::state::FileEntry;
use crate::{Location, OperatorMetrics, RunOptions, publish, slices, write};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, displayable};
use rulec_compile::CompiledPack;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_lineage::PackLineage;
use rulec_pack::Pack;
use std::sync::Arc;

/// What to show besides the verdict.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayShow {
    /// The physical plan the stored plan becomes.
    pub explain: bool,
    /// The operators' metrics of the replay.
    pub analyze: bool,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    pub product: String,
    /// Why the replay did not run or did not match (empty: it matched).
    pub diagnostics: Vec<Diagnostic>,
    /// The stored plan's file, as the manifest names it.
    pub plan_file: Option<String>,
    /// Rows the manifest records, and rows the replay wrote.
    pub expected_rows: Option<u64>,
    pub rows: Option<u64>,
    /// Rows the output contract refused, recorded and replayed.
    pub expected_refused: u64,
    pub refused: u64,
    /// Data files whose SHA-256 were compared (a sorted product's).
    pub files_compared: usize,
    /// With `explain`: the physical plan, one per slice.
    pub physical_plans: Vec<String>,
    /// With `analyze`: the operators' metrics.
    pub metrics: Vec<OperatorMetrics>,
}

impl ReplayReport {
    pub fn succeeded(&self) -> bool {
        self.diagnostics.is_empty()
    }

    fn failed(mut self, diagnostic: Diagnostic) -> Self {
        self.diagnostics.push(diagnostic);
        self
    }
}

/// Replays product `product` of `pack` in `options.out` (see the module's documentation).
/// The caller holds the output directory's lock.
pub async fn replay(
    pack: &Pack,
    compiled: &CompiledPack,
    lineage: &PackLineage,
    options: &RunOptions,
    product: &str,
    show: ReplayShow,
) -> ReplayReport {
    let report = ReplayReport {
        product: product.to_owned(),
        ..ReplayReport::default()
    };
    let unavailable = |message: String| Diagnostic::error(codes::REPLAY_UNAVAILABLE, message);
    let Location::Local(out) = &options.out else {
        return report.failed(unavailable(format!(
            "`{}` is on object storage: replay reads local products",
            options.out
        )));
    };
    let dir = out.join(product);
    let Some(rule) = pack.rule(product) else {
        return report.failed(unavailable(format!(
            "pack `{}` has no rule `{product}`",
            pack.manifest.name
        )));
    };
    let Some(manifest) = crate::state::read_manifest(&dir) else {
        return report.failed(unavailable(format!(
            "`{}` holds no product (no readable manifest)",
            dir.display()
        )));
    };
    let mut report = ReplayReport {
        plan_file: Some(manifest.plan.name.clone()),
        expected_rows: Some(manifest.rows),
        expected_refused: manifest.errors.as_ref().map_or(0, |e| e.rows),
        ..report
    };
    let Some(compiled_rule) = compiled.rule(product) else {
        return report.failed(unavailable(format!("rule `{product}` did not compile")));
    };
    let (Some(schema), false) = (
        &compiled_rule.output_schema,
        compiled_rule.diagnostics.iter().any(Diagnostic::is_error),
    ) else {
        return report.failed(unavailable(format!("rule `{product}` has errors")));
    };

    // What it was built from: the pack's build id must still be the manifest's.
    let wanted = crate::wanted_rules(pack, &[product.to_owned()]);
    let mut diagnostics = Vec::new();
    let Some(prepared) = crate::prepare(pack, options, &wanted, &mut diagnostics).await else {
        report.diagnostics = diagnostics;
        return report;
    };
    // Built tolerant or not (`--tolerant` is part of the build id): whichever matches.
    let mut tolerant = options.tolerant;
    let mut builds = prepared.build_ids(pack, compiled, lineage, options, tolerant);
    if builds.get(product).map(|b| &b.id) != Some(&manifest.build_id.id) {
        let other = prepared.build_ids(pack, compiled, lineage, options, !tolerant);
        if other.get(product).map(|b| &b.id) == Some(&manifest.build_id.id) {
            tolerant = !tolerant;
            builds = other;
        }
    }
    let Some(build) = builds.get(product) else {
        return report.failed(unavailable(format!("product `{product}` has no build id")));
    };
    if build.id != manifest.build_id.id {
        let reasons = crate::identity::rebuild_reasons(&manifest.build_id, build);
        return report.failed(
            unavailable(format!(
                "product `{product}` was built from something else than the pack now holds ({})",
                reasons.join(", ")
            ))
            .in_file(rule.file.clone()),
        );
    }

    // The products it reads, as they are.
    let run_settings = options.profile.effective_settings();
    let mut runner = prepared.runner(pack, compiled, options, &builds, &run_settings);
    runner.reuse_only = true;
    let mut upstream = wanted.clone();
    upstream.remove(product);
    for read in runner.products(&upstream).await {
        if let crate::ProductStatus::Failed(d) | crate::ProductStatus::Skipped(d) = read.status {
            report.diagnostics.push(d);
        }
    }
    if !report.diagnostics.is_empty() {
        return report;
    }

    // The stored plan, as the manifest names it, in the sandboxed consumer.
    let state = prepared.ctx.state();
    let (logical, bytes) = match stored_plan(&state, &dir, &manifest.plan).await {
        Ok(plan) => plan,
        Err(d) => return report.failed(d.in_file(rule.file.clone())),
    };
    let computed: Vec<&String> = logical.schema().fields().iter().map(|f| f.name()).collect();
    let recorded: Vec<&String> = manifest.schema.iter().map(|c| &c.name).collect();
    if computed != recorded {
        return report.failed(Diagnostic::error(
            codes::REPLAY_PLAN_REFUSED,
            format!(
                "the plan computes columns ({}), product `{product}` holds ({}): it is another product's plan",
                names(&computed),
                names(&recorded)
            ),
        ));
    }
    let settings = match pack.product_settings(product) {
        Ok(settings) => settings,
        Err(d) => return report.failed(d),
    };
    let (plans, run_in) = match &settings.slices {
        None => (vec![logical], state.clone()),
        Some(setting) => match slice_plans(&logical, schema, product, setting) {
            Ok(plans) => (plans, slices::pushdown_session(&state)),
            Err(d) => return report.failed(d),
        },
    };
    let mut physical: Vec<Arc<dyn ExecutionPlan>> = Vec::with_capacity(plans.len());
    for plan in &plans {
        match run_in.create_physical_plan(plan).await {
            Ok(p) => physical.push(p),
            Err(e) => {
                return report.failed(Diagnostic::error(
                    codes::EXECUTION_FAILED,
                    format!("product `{product}`: {}", rulec_compile::clean_message(&e)),
                ));
            }
        }
    }
    if show.explain {
        report.physical_plans = physical
            .iter()
            .map(|p| displayable(p.as_ref()).indent(true).to_string())
            .collect();
    }

    // Written as a build writes it, into a staging directory that goes afterwards.
    let staging = match publish::Staging::create(&prepared.staging, product) {
        Ok(staging) => staging,
        Err(e) => {
            return report.failed(write::write_error(
                product,
                "cannot create a staging directory for the replay",
                e,
            ));
        }
    };
    let checks = output_checks(pack, product, &settings, tolerant);
    let target = write_target(&settings, &staging, &checks, &bytes);
    let written = write::write_rows(
        physical,
        run_in.task_ctx(),
        Arc::clone(schema),
        &target,
        product,
        None,
    )
    .await;
    staging.discard();
    let written = match written {
        Ok(written) => written,
        Err(d) => return report.failed(d),
    };
    report.rows = Some(written.rows);
    report.refused = written.errors.as_ref().map_or(0, |(_, rows)| *rows);
    if show.analyze {
        report.metrics = written.metrics.clone();
    }
    let mismatch = |message: String| Diagnostic::error(codes::REPLAY_MISMATCH, message);
    if written.rows != manifest.rows || report.refused != report.expected_refused {
        let message = format!(
            "the replay wrote {} rows ({} refused), product `{product}` holds {} ({} refused)",
            written.rows, report.refused, manifest.rows, report.expected_refused
        );
        return report.failed(mismatch(message));
    }
    if manifest.order.tier == "sorted" {
        let replayed = file_digests(&written.data);
        let recorded = file_digests(&manifest.files);
        report.files_compared = recorded.len();
        if replayed != recorded {
            return report.failed(mismatch(format!(
                "the replay wrote {} files, product `{product}` holds {}; they differ in content (SHA-256), though the product is sorted",
                replayed.len(),
                recorded.len()
            )));
        }
    }
    report
}

/// The stored plan: the plan file's bytes, checked against the manifest's record of them,
/// decoded and consumed (the consumer reads only the session's registered tables).
async fn stored_plan(
    state: &SessionState,
    dir: &std::path::Path,
    recorded: &FileEntry,
) -> Result<(LogicalPlan, Vec<u8>), Diagnostic> {
    let refused = |message: String| Diagnostic::error(codes::REPLAY_PLAN_REFUSED, message);
    let path = dir.join(&recorded.name);
    let bytes = std::fs::read(&path).map_err(|e| {
        refused(format!(
            "cannot read the plan file `{}`: {e}",
            path.display()
        ))
    })?;
    let sha256 = rulec_contract::sha256_hex(&bytes);
    if sha256 != recorded.sha256 || bytes.len() as u64 != recorded.bytes {
        return Err(refused(format!(
            "the plan file `{}` is not the one the product was built from: {} bytes, {sha256}; the manifest records {} bytes, {}",
            recorded.name,
            bytes.len(),
            recorded.bytes,
            recorded.sha256
        )));
    }
    let plan = rulec_substrait::decode(&bytes).map_err(|e| refused(e.to_string()))?;
    let logical = rulec_substrait::from_substrait(state, &plan)
        .await
        .map_err(|e| refused(format!("the plan is refused: {e}")))?;
    Ok((logical, bytes))
}

/// A product's data files as their partition directories and contents: (directory, SHA-256,
/// rows), in order (file names carry the version's nonce, which differs).
fn file_digests(files: &[FileEntry]) -> Vec<(String, String, Option<u64>)> {
    let mut out: Vec<(String, String, Option<u64>)> = files
        .iter()
        .map(|f| {
            let directory = f.name.rsplit_once('/').map_or("", |(d, _)| d);
            (directory.to_owned(), f.sha256.clone(), f.rows)
        })
        .collect();
    out.sort();
    out
}

fn names(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
