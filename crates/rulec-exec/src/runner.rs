//! The products of a run: each product's turn (compiled? ephemeral? reused? appended?
//! built), scheduled up to `--jobs` at once in dependency order, and the registration of
//! what readers read (written products, ephemeral views).

use crate::Location;
use crate::build::{Append, ProductJob, append_update, build_product, output_checks};
use crate::identity::{self, BuildId};
use crate::{
    ProductReport, ProductStatus, ProgressEvent, Published, RunOptions, inputs, state, view,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;
use rulec_compile::CompiledPack;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::{Materialize, Pack};
use state::Manifest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What a run needs to build its products.
pub(crate) struct Runner<'a> {
    pub(crate) pack: &'a Pack,
    pub(crate) compiled: &'a CompiledPack,
    pub(crate) options: &'a RunOptions,
    pub(crate) ctx: &'a SessionContext,
    pub(crate) builds: &'a BTreeMap<String, BuildId>,
    pub(crate) files_of: &'a BTreeMap<String, Vec<identity::FileIdentity>>,
    pub(crate) input_paths: &'a BTreeMap<String, Location>,
    pub(crate) run_settings: &'a BTreeMap<String, String>,
    /// Where new versions are built ([`crate::publish::Staging`]).
    pub(crate) staging: &'a Path,
    /// Read products as they are, build none (a replay): a product that would be built
    /// fails instead.
    pub(crate) reuse_only: bool,
}

/// How a product's turn ended.
#[derive(Default)]
struct Finished {
    /// `None` for a rule that was not compiled at all (nothing to report).
    report: Option<ProductReport>,
    /// Built, reused or ephemeral: readers can read it.
    available: bool,
    /// Its data changes run to run (it or what it reads calls a volatile function).
    volatile: bool,
}

impl Finished {
    fn of(report: ProductReport, volatile: bool) -> Self {
        let available = matches!(
            report.status,
            ProductStatus::Built { .. } | ProductStatus::Reused(_) | ProductStatus::Ephemeral
        );
        Finished {
            report: Some(report),
            available,
            volatile,
        }
    }
}

impl Runner<'_> {
    /// Builds (or reuses) every wanted product, up to `--jobs` at once: a product starts
    /// once every product it reads has finished. Reports come in the pack's order.
    pub(crate) async fn products(&self, wanted: &BTreeSet<String>) -> Vec<ProductReport> {
        use futures::StreamExt as _;
        let jobs = self.options.jobs.max(1);
        let order: Vec<&rulec_pack::Rule> = self
            .pack
            .rules
            .iter()
            .filter(|r| wanted.contains(&r.name))
            .collect();
        // Per finished product: (readers can read it, it is volatile).
        let mut finished: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        let mut reports: BTreeMap<String, ProductReport> = BTreeMap::new();
        let mut started = vec![false; order.len()];
        let mut running = futures::stream::FuturesUnordered::new();
        loop {
            let free = jobs.saturating_sub(running.len());
            let mut ready: Vec<usize> = (0..order.len())
                .filter(|&i| {
                    !started[i]
                        && order[i]
                            .upstream_rules
                            .iter()
                            .all(|u| finished.contains_key(u) || !wanted.contains(u))
                })
                .take(free)
                .collect();
            // Rules in a cycle never become ready: once nothing else runs, each is started
            // (and reported not built, for what it reads).
            if running.is_empty()
                && ready.is_empty()
                && let Some(i) = started.iter().position(|s| !s)
            {
                ready.push(i);
            }
            for i in ready {
                started[i] = true;
                let rule: &rulec_pack::Rule = order[i];
                let missing: Vec<String> = rule
                    .upstream_rules
                    .iter()
                    .filter(|u| !finished.get(*u).is_some_and(|f| f.0))
                    .cloned()
                    .collect();
                let reads_volatile = rule
                    .upstream_rules
                    .iter()
                    .find(|u| finished.get(*u).is_some_and(|f| f.1))
                    .cloned();
                running.push(async move {
                    let outcome = self.product(rule, missing, reads_volatile).await;
                    (rule.name.clone(), outcome)
                });
            }
            let Some((name, outcome)) = running.next().await else {
                break;
            };
            finished.insert(name.clone(), (outcome.available, outcome.volatile));
            if let Some(report) = outcome.report {
                reports.insert(name, report);
            }
        }
        order
            .iter()
            .filter_map(|r| reports.remove(&r.name))
            .collect()
    }

    /// One product's turn: `missing` are the products it reads that readers cannot read,
    /// `reads_volatile` a volatile product it reads.
    async fn product(
        &self,
        rule: &rulec_pack::Rule,
        missing: Vec<String>,
        reads_volatile: Option<String>,
    ) -> Finished {
        let Runner {
            pack,
            compiled,
            options,
            ctx,
            builds,
            files_of,
            input_paths,
            ..
        } = *self;
        let product_dir = options.out.join(&rule.name);
        let Some(compiled_rule) = compiled.rule(&rule.name) else {
            return Finished::default();
        };
        let build = builds.get(&rule.name);
        let mut product = ProductReport {
            name: rule.name.clone(),
            path: product_dir.clone(),
            build_id: build.map(|b| b.id.clone()),
            status: ProductStatus::Skipped(Diagnostic::error(codes::PRODUCT_SKIPPED, "")),
        };
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            product.status = ProductStatus::Skipped(
                Diagnostic::error(
                    codes::PRODUCT_SKIPPED,
                    format!(
                        "not built: it reads {} which was not built",
                        names.join(", ")
                    ),
                )
                .in_file(rule.file.clone()),
            );
            return Finished::of(product, false);
        }
        let has_errors = compiled_rule.diagnostics.iter().any(Diagnostic::is_error);
        let (Some(plan), Some(schema), Some(build), false) = (
            &compiled_rule.plan,
            &compiled_rule.output_schema,
            build,
            has_errors,
        ) else {
            let first = compiled_rule
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .cloned()
                .unwrap_or_else(|| {
                    Diagnostic::error(codes::EXECUTION_FAILED, "the rule did not compile")
                        .in_file(rule.file.clone())
                });
            product.status = ProductStatus::Failed(first);
            return Finished::of(product, false);
        };

        let layout = match rulec_compile::product_layout(pack, &rule.name, plan, schema) {
            Ok(layout) => layout,
            Err(d) => {
                product.status = ProductStatus::Failed(d);
                return Finished::of(product, false);
            }
        };
        if layout.settings.materialize == Materialize::Ephemeral {
            product.status = match register_view(ctx, &rule.name, plan).await {
                Ok(()) => ProductStatus::Ephemeral,
                Err(d) => ProductStatus::Failed(d.in_file(rule.file.clone())),
            };
            return Finished::of(product, false);
        }
        let volatile_reason = if rulec_compile::volatile_functions(plan).is_empty() {
            reads_volatile.map(|u| format!("reads volatile `{u}`"))
        } else {
            Some("volatile".to_owned())
        };
        let volatile = volatile_reason.is_some();

        // Reuse when the build id is the same and the files are whole (and the data cannot
        // have changed since).
        let session = ctx.state();
        let existing = state::read_product_manifest(&session, &product_dir).await;
        // Whether its files are whole matters to a reuse and an append only.
        let intact = match &existing {
            Some(m)
                if !options.force
                    && (m.build_id.id == build.id
                        || layout.settings.incremental == rulec_pack::Incremental::Append) =>
            {
                state::product_intact(&session, &product_dir, m, options.verify).await
            }
            _ => false,
        };
        let reasons: Vec<String> = match &existing {
            _ if options.force => vec!["forced with --force".to_owned()],
            None => vec!["new".to_owned()],
            Some(m) if m.build_id.id != build.id => identity::rebuild_reasons(&m.build_id, build),
            Some(_) if !intact => vec!["files missing or corrupt".to_owned()],
            Some(_) => volatile_reason.iter().cloned().collect(),
        };
        let mode = match &existing {
            Some(previous)
                if !reasons.is_empty() && !options.force && volatile_reason.is_none() =>
            {
                append_update(previous, build, &layout, files_of, options.tolerant, intact)
            }
            _ => None,
        };
        let reasons = match &mode {
            Some(Ok(append)) => vec![format!(
                "appended {} new file{} of `{}`",
                append.new_files.len(),
                if append.new_files.len() == 1 { "" } else { "s" },
                append.input
            )],
            Some(Err(why)) => reasons.into_iter().chain([why.clone()]).collect(),
            None => reasons,
        };
        let append = mode.and_then(Result::ok);
        if reasons.is_empty()
            && let Some(manifest) = &existing
        {
            // What a killed run uploaded beside it goes (a local product is swapped whole).
            if let Location::Object(object) = &product_dir
                && let Ok(store) = crate::objects::store(session.runtime_env(), object)
            {
                crate::objects::delete_stale(store.as_ref(), object, manifest).await;
            }
            match register_product(ctx, &rule.name, &product_dir, manifest, schema).await {
                Ok(()) => product.status = ProductStatus::Reused(Published::of(manifest)),
                Err(d) => product.status = ProductStatus::Failed(d.in_file(rule.file.clone())),
            }
            return Finished::of(product, volatile);
        }

        if self.reuse_only {
            product.status = ProductStatus::Failed(
                Diagnostic::error(
                    codes::REPLAY_UNAVAILABLE,
                    format!(
                        "product `{}` is not current ({}): a replay reads the products it reads as they are",
                        rule.name,
                        reasons.join(", ")
                    ),
                )
                .in_file(rule.file.clone())
                .with_help(format!("`rulec run` builds it; then `{}` can be replayed against it", rule.name)),
            );
            return Finished::of(product, volatile);
        }
        let started = Instant::now();
        let progress = options.progress.as_ref();
        if let Some(sink) = progress {
            (sink.0)(ProgressEvent::Building {
                product: &rule.name,
            });
        }
        let job = ProductJob {
            name: &rule.name,
            plan,
            schema,
            settings: &layout.settings,
            checks: output_checks(pack, &rule.name, &layout.settings, options.tolerant),
            out: &product_dir,
            staging: self.staging,
            engine: &options.engine,
            build,
            run_settings: self.run_settings,
            appended_from: layout
                .append_sources
                .iter()
                .filter_map(|t| Some((t.clone(), files_of.get(t)?.clone())))
                .collect(),
            append: append.as_ref().and_then(|a| {
                Some(Append {
                    previous: existing.as_ref()?,
                    input: &a.input,
                    schema: Arc::clone(&pack.contracts.get(&a.input)?.schema),
                    files: a
                        .new_files
                        .iter()
                        .filter_map(|f| Some(input_paths.get(&a.input)?.join(&f.path)))
                        .collect(),
                })
            }),
        };
        let outcome = build_product(&ctx.state(), &job, progress).await;
        if let Some(sink) = progress {
            (sink.0)(ProgressEvent::Done {
                product: &rule.name,
            });
        }
        product.status = match outcome {
            Ok((manifest, metrics)) => {
                match register_product(ctx, &rule.name, &product_dir, &manifest, schema).await {
                    Ok(()) => ProductStatus::Built {
                        product: Published::of(&manifest),
                        elapsed: started.elapsed(),
                        reasons,
                        appended: job.append.is_some(),
                        metrics,
                    },
                    Err(d) => ProductStatus::Failed(d.in_file(rule.file.clone())),
                }
            }
            Err(mut d) => {
                if d.code == codes::EXECUTION_FAILED {
                    // The engine's read errors do not name files: name what the rule reads.
                    for table in &rule.upstream_inputs {
                        if let Some(path) = input_paths.get(table) {
                            d = d
                                .with_note(format!("the rule reads input `{table}` from `{path}`"));
                        }
                    }
                    for upstream in &rule.upstream_rules {
                        d = d.with_note(format!(
                            "the rule reads product `{upstream}` from `{}`",
                            options.out.join(upstream)
                        ));
                    }
                }
                ProductStatus::Failed(d.in_file(rule.file.clone()))
            }
        };
        Finished::of(product, volatile)
    }
}

/// Registers an ephemeral product as a view of its plan (the Substrait artifact, consumed
/// as every product's is), so that the plans of its readers read through it.
async fn register_view(
    ctx: &SessionContext,
    name: &str,
    plan: &datafusion::logical_expr::LogicalPlan,
) -> Result<(), Diagnostic> {
    let substrait = rulec_substrait::to_substrait(plan)
        .map_err(|e| Diagnostic::error(codes::UNENCODABLE_PLAN, e.to_string()))?;
    let logical = rulec_substrait::from_substrait(&ctx.state(), &substrait)
        .await
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    let view = view::EphemeralTable::new(logical);
    ctx.deregister_table(name)
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    ctx.register_table(name, Arc::new(view))
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    Ok(())
}

/// Registers a product's data files (as its manifest names them) for downstream rules.
async fn register_product(
    ctx: &SessionContext,
    name: &str,
    dir: &Location,
    manifest: &Manifest,
    schema: &SchemaRef,
) -> Result<(), Diagnostic> {
    let files: Vec<Location> = manifest.files.iter().map(|f| dir.join(&f.name)).collect();
    let provider = inputs::product_table(
        &ctx.state(),
        dir,
        &files,
        &manifest.layout.partition_by,
        Arc::clone(schema),
    )
    .map_err(|e| {
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
