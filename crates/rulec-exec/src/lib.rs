//! Execution: runs each rule's Substrait plan on DataFusion, in dependency order, and
//! writes each product as Parquet — incrementally, deterministically and crash-safely.
//!
//! Architecture invariant: this is the only crate that writes files. A product is the
//! files its manifest names; new files get new names, and the manifest is replaced last,
//! atomically, so a run killed at any moment leaves every published product whole. A
//! product whose build id (see [`identity`]) is unchanged and whose files are intact is
//! reused, not recomputed; one run at a time holds an output directory ([`lock`]).

#![allow(
    clippy::result_large_err,
    reason = "errors are diagnostics, returned once per failed product: a cold path"
)]

pub mod identity;
mod inputs;
pub mod lock;
pub mod profile;
pub mod publish;
mod session;
pub mod slices;
pub mod state;
mod store;
mod view;
mod write;

pub use identity::{BuildId, InputIdentity};
pub use inputs::{InputCheck, check_input};
pub use lock::{OutputLock, lock_output};
pub use profile::Profile;
pub use session::runtime_session;
pub use write::OperatorMetrics;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use rulec_compile::CompiledPack;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_lineage::PackLineage;
use rulec_pack::Pack;
use rulec_pack::{Materialize, ProductSettings, SliceSetting, SortKey};
use state::{ColumnEntry, Manifest, Ordering};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a run reports while it works (for progress displays).
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent<'a> {
    /// A product starts being computed.
    Building { product: &'a str },
    /// Rows written so far, and the bytes of the files so far.
    Rows {
        product: &'a str,
        rows: u64,
        bytes: u64,
    },
    /// A product is committed (or failed).
    Done { product: &'a str },
}

/// Where progress goes.
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Fn(ProgressEvent<'_>) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

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
    /// Rebuild even what could be reused.
    pub force: bool,
    /// Check reused products' files against their recorded SHA-256 (not only sizes).
    pub verify: bool,
    /// How input data is identified.
    pub input_identity: InputIdentity,
    pub profile: Profile,
    /// Write rows that break an output contract to the product's error file instead of
    /// failing (as `on_violation: tolerant` does per product).
    pub tolerant: bool,
    /// Products built at once, at most (a product starts once what it reads is done).
    pub jobs: usize,
    /// Told about each product's progress.
    pub progress: Option<ProgressSink>,
}

impl RunOptions {
    pub fn new(pack_root: PathBuf, out_dir: PathBuf, profile: Profile) -> Self {
        RunOptions {
            pack_root,
            data_dir: None,
            out_dir,
            only: Vec::new(),
            force: false,
            verify: false,
            input_identity: InputIdentity::Metadata,
            profile,
            tolerant: false,
            jobs: 1,
            progress: None,
        }
    }
}

/// What a published product holds, as its manifest says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    /// Rows the output contract refused (tolerant mode), in the product's errors file.
    pub refused: u64,
}

impl Published {
    fn of(manifest: &Manifest) -> Self {
        Published {
            rows: manifest.rows,
            files: manifest.files.len(),
            bytes: manifest.files.iter().map(|f| f.bytes).sum(),
            refused: manifest.errors.as_ref().map_or(0, |e| e.rows),
        }
    }
}

/// What happened to one product.
#[derive(Debug, Clone)]
pub enum ProductStatus {
    Built {
        product: Published,
        elapsed: Duration,
        /// Why it was built: `new`, `query changed`, `input X changed`, ...
        reasons: Vec<String>,
        /// Only a part was added, from an input's new files (`incremental: append`).
        appended: bool,
        metrics: Vec<OperatorMetrics>,
    },
    /// Its build id is unchanged and its files are intact.
    Reused(Published),
    /// Never written: a view, inlined into the plans of the products that read it.
    Ephemeral,
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
    pub build_id: Option<String>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Problems found before any product was built (inputs, settings).
    pub diagnostics: Vec<Diagnostic>,
    pub products: Vec<ProductReport>,
    /// Every effective runtime setting.
    pub settings: BTreeMap<String, String>,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        !rulec_diagnostics::has_errors(&self.diagnostics)
            && self.products.iter().all(|p| {
                matches!(
                    p.status,
                    ProductStatus::Built { .. }
                        | ProductStatus::Reused(_)
                        | ProductStatus::Ephemeral
                )
            })
    }
}

/// What a product's output settings are, as text for its build id: its layout (order,
/// slices, partitions, files, compression, appends), the output contract's checks,
/// tolerance (invalid settings give their error text, so that fixing them rebuilds).
fn output_settings(pack: &Pack, name: &str, tolerant: bool) -> String {
    let settings = match pack.product_settings(name) {
        Ok(settings) => settings,
        Err(d) => return d.message,
    };
    let checks = output_checks(pack, name, &settings, tolerant);
    let layout = settings.layout_identity();
    format!(
        "{layout}{}not_null={} key={} tolerant={}",
        if layout.is_empty() { "" } else { " " },
        checks.not_null.join(","),
        checks.key.join(","),
        checks.tolerant
    )
}

/// The row checks of a product's output contract, and whether refused rows fail it.
fn output_checks(
    pack: &Pack,
    name: &str,
    settings: &ProductSettings,
    tolerant: bool,
) -> write::OutputChecks {
    let tolerant = settings.tolerant(tolerant);
    let Some(contract) = pack.output_contracts.get(name) else {
        return write::OutputChecks {
            tolerant,
            ..write::OutputChecks::default()
        };
    };
    write::OutputChecks {
        not_null: contract
            .columns
            .iter()
            .filter(|c| !c.nullable)
            .map(|c| c.name.clone())
            .collect(),
        key: contract.key.clone(),
        tolerant,
    }
}

/// Runs the compiled pack. `compiled` and `lineage` must come from `pack`. The caller holds
/// the output directory's lock ([`lock_output`]).
pub async fn run(
    pack: &Pack,
    compiled: &CompiledPack,
    lineage: &PackLineage,
    options: &RunOptions,
) -> RunReport {
    let mut report = RunReport {
        settings: options.profile.effective_settings(),
        ..RunReport::default()
    };
    let wanted = wanted_rules(pack, &options.only);
    let state = match options.profile.session() {
        Ok(state) => state,
        Err(d) => {
            report.diagnostics.push(d);
            return report;
        }
    };
    let ctx = SessionContext::new_with_state(state);
    // What interrupted runs left half-built (the caller holds the lock: no run is building).
    publish::clean_staging(&options.out_dir);

    // Inputs first: every input a wanted rule reads must exist and match its contract.
    let needed_inputs: BTreeSet<&String> = pack
        .rules
        .iter()
        .filter(|r| wanted.contains(&r.name))
        .flat_map(|r| r.upstream_inputs.iter())
        .collect();
    let mut inputs_ok = true;
    let mut identities: BTreeMap<String, String> = BTreeMap::new();
    // Each input's data files and their identities (what append-incremental products compare).
    let mut files_of: BTreeMap<String, Vec<identity::FileIdentity>> = BTreeMap::new();
    // Where each input's data is, for naming the files of a product that fails to run.
    let mut input_paths: BTreeMap<String, PathBuf> = BTreeMap::new();
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
        input_paths.insert(table.clone(), path.clone());
        match check_input(&ctx.state(), table, &path, contract).await {
            InputCheck::Ok(provider, warnings) => {
                report.diagnostics.extend(warnings);
                if let Err(e) = ctx.register_table(table.as_str(), provider) {
                    report.diagnostics.push(Diagnostic::error(
                        codes::EXECUTION_FAILED,
                        format!("cannot register input `{table}`: {e}"),
                    ));
                    inputs_ok = false;
                }
                match identity::input_files(&path, options.input_identity) {
                    Ok(files) => {
                        identities.insert(table.clone(), identity::files_identity(&files));
                        files_of.insert(table.clone(), files);
                    }
                    Err(e) => {
                        report.diagnostics.push(Diagnostic::error(
                            codes::INPUT_MISSING,
                            format!("input `{table}`: cannot read `{}`: {e}", path.display()),
                        ));
                        inputs_ok = false;
                    }
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

    let builds = identity::build_ids(&identity::BuildContext {
        pack,
        compiled,
        lineage,
        inputs: &identities,
        profile_hash: options.profile.hash(),
        outputs: pack
            .rules
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    output_settings(pack, &r.name, options.tolerant),
                )
            })
            .collect(),
    });

    let runner = Runner {
        pack,
        compiled,
        options,
        ctx: &ctx,
        builds: &builds,
        files_of: &files_of,
        input_paths: &input_paths,
        run_settings: &report.settings,
    };
    report.products = runner.products(&wanted).await;
    publish::remove_empty_staging(&options.out_dir);
    report
}

/// What a run needs to build its products.
struct Runner<'a> {
    pack: &'a Pack,
    compiled: &'a CompiledPack,
    options: &'a RunOptions,
    ctx: &'a SessionContext,
    builds: &'a BTreeMap<String, BuildId>,
    files_of: &'a BTreeMap<String, Vec<identity::FileIdentity>>,
    input_paths: &'a BTreeMap<String, PathBuf>,
    run_settings: &'a BTreeMap<String, String>,
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

    fn not_built(report: ProductReport) -> Self {
        Finished::of(report, false)
    }
}

impl Runner<'_> {
    /// Builds (or reuses) every wanted product, up to `--jobs` at once: a product starts
    /// once every product it reads has finished. Reports come in the pack's order.
    async fn products(&self, wanted: &BTreeSet<String>) -> Vec<ProductReport> {
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
        let product_dir = options.out_dir.join(&rule.name);
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
            return Finished::not_built(product);
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
            return Finished::not_built(product);
        };

        let layout = match rulec_compile::product_layout(pack, &rule.name, plan, schema) {
            Ok(layout) => layout,
            Err(d) => {
                product.status = ProductStatus::Failed(d);
                return Finished::not_built(product);
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
        let existing = state::read_manifest(&product_dir);
        let reasons: Vec<String> = match &existing {
            _ if options.force => vec!["forced with --force".to_owned()],
            None => vec!["new".to_owned()],
            Some(m) if m.build_id.id != build.id => identity::rebuild_reasons(&m.build_id, build),
            Some(m) if !state::files_intact(&product_dir, m, options.verify) => {
                vec!["files missing or corrupt".to_owned()]
            }
            Some(_) => volatile_reason.iter().cloned().collect(),
        };
        let mode = match &existing {
            Some(previous)
                if !reasons.is_empty() && !options.force && volatile_reason.is_none() =>
            {
                append_update(
                    previous,
                    build,
                    &layout,
                    files_of,
                    options.tolerant,
                    state::files_intact(&product_dir, previous, options.verify),
                )
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
            match register_product(ctx, &rule.name, &product_dir, manifest, schema).await {
                Ok(()) => product.status = ProductStatus::Reused(Published::of(manifest)),
                Err(d) => product.status = ProductStatus::Failed(d.in_file(rule.file.clone())),
            }
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
            out_dir: &options.out_dir,
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
                            d = d.with_note(format!(
                                "the rule reads input `{table}` from `{}`",
                                path.display()
                            ));
                        }
                    }
                    for upstream in &rule.upstream_rules {
                        d = d.with_note(format!(
                            "the rule reads product `{upstream}` from `{}`",
                            options.out_dir.join(upstream).display()
                        ));
                    }
                }
                ProductStatus::Failed(d.in_file(rule.file.clone()))
            }
        };
        Finished::of(product, volatile)
    }
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

/// The plans of a product's slices: `plan` (whose columns are the product's, by position)
/// with each slice's filter at its scans.
fn slice_plans(
    plan: &datafusion::logical_expr::LogicalPlan,
    schema: &SchemaRef,
    name: &str,
    slices: &SliceSetting,
) -> Result<Vec<datafusion::logical_expr::LogicalPlan>, Diagnostic> {
    let key = schema.index_of(&slices.by).map_err(|e| {
        Diagnostic::error(codes::INVALID_RUN_SETTING, format!("product `{name}`: {e}"))
    })?;
    (0..slices.count)
        .map(|i| rulec_compile::slices::slice(plan, key, i, slices.count))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| {
            Diagnostic::error(
                codes::INVALID_RUN_SETTING,
                format!(
                    "product `{name}` cannot be built in slices of `{}`: {why}",
                    slices.by
                ),
            )
        })
}

/// One product to build: what it computes, how it is laid out and checked, where it goes.
#[derive(Debug)]
struct ProductJob<'a> {
    name: &'a str,
    plan: &'a datafusion::logical_expr::LogicalPlan,
    schema: &'a SchemaRef,
    settings: &'a ProductSettings,
    checks: write::OutputChecks,
    out_dir: &'a Path,
    build: &'a BuildId,
    /// Every effective runtime setting, recorded in the manifest.
    run_settings: &'a BTreeMap<String, String>,
    /// The files of the inputs it can be appended from, recorded in the manifest.
    appended_from: BTreeMap<String, Vec<identity::FileIdentity>>,
    /// Set: add a part computed from these new files of one input to the previous version.
    append: Option<Append<'a>>,
}

/// An append to a product: its query over the new files of one input, as a new part.
#[derive(Debug)]
struct Append<'a> {
    previous: &'a Manifest,
    input: &'a str,
    /// The input's contract schema.
    schema: SchemaRef,
    files: Vec<PathBuf>,
}

/// What an append-incremental product's update is, when only an input it is row-local in
/// gained files: `None` if it is not such a product (or has no record of its inputs' files),
/// else the append, or why it is rebuilt whole.
fn append_update(
    previous: &Manifest,
    build: &BuildId,
    layout: &rulec_compile::ProductLayout,
    files_of: &BTreeMap<String, Vec<identity::FileIdentity>>,
    tolerant_run: bool,
    intact: bool,
) -> Option<Result<AppendUpdate, String>> {
    if layout.settings.incremental != rulec_pack::Incremental::Append {
        return None;
    }
    let recorded = previous.appended_from.as_ref()?;
    let changed: Vec<&String> = previous
        .build_id
        .components
        .keys()
        .chain(build.components.keys())
        .filter(|k| previous.build_id.components.get(*k) != build.components.get(*k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let input = match changed.as_slice() {
        [key] => key.strip_prefix("input:")?,
        _ => return None,
    };
    if !layout.append_sources.contains(input) {
        return None;
    }
    let rebuild = |why: String| Some(Err(format!("not appended: {why}")));
    if tolerant_run {
        return rebuild("a tolerant run rebuilds appended products whole".to_owned());
    }
    if !intact {
        return rebuild("files missing or corrupt".to_owned());
    }
    let (Some(before), Some(now)) = (recorded.get(input), files_of.get(input)) else {
        return rebuild(format!("no record of the files of `{input}`"));
    };
    let current: BTreeMap<&str, &str> = now
        .iter()
        .map(|f| (f.path.as_str(), f.id.as_str()))
        .collect();
    for file in before {
        match current.get(file.path.as_str()) {
            None => return rebuild(format!("`{}` of `{input}` was removed", file.path)),
            Some(id) if *id != file.id => {
                return rebuild(format!("`{}` of `{input}` changed", file.path));
            }
            Some(_) => {}
        }
    }
    let known: BTreeSet<&str> = before.iter().map(|f| f.path.as_str()).collect();
    let new_files: Vec<identity::FileIdentity> = now
        .iter()
        .filter(|f| !known.contains(f.path.as_str()))
        .cloned()
        .collect();
    if new_files.is_empty() {
        return None;
    }
    Some(Ok(AppendUpdate {
        input: input.to_owned(),
        new_files,
    }))
}

/// The new files of one input to append.
#[derive(Debug)]
struct AppendUpdate {
    input: String,
    new_files: Vec<identity::FileIdentity>,
}

/// `plan` reading only `files` where it scans `input`.
fn scan_only(
    plan: datafusion::logical_expr::LogicalPlan,
    input: &str,
    provider: Arc<dyn datafusion::catalog::TableProvider>,
) -> datafusion::error::Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode as _};
    use datafusion::logical_expr::{LogicalPlan, TableScanBuilder};
    let source = datafusion::datasource::provider_as_source(provider);
    plan.transform_up(|node| match node {
        LogicalPlan::TableScan(scan) if scan.table_name.table() == input => {
            let new = TableScanBuilder::new(scan.table_name.clone(), Arc::clone(&source))
                .with_projection(scan.projection.clone())
                .with_filters(scan.filters.clone())
                .with_fetch(scan.fetch)
                .build()?;
            Ok(Transformed::yes(LogicalPlan::TableScan(new)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// Computes a product into a staging directory — data, plan, errors, manifest last — and
/// publishes it in place of the product's directory (see [`publish`]).
async fn build_product(
    state: &SessionState,
    job: &ProductJob<'_>,
    progress: Option<&ProgressSink>,
) -> Result<(Manifest, Vec<OperatorMetrics>), Diagnostic> {
    let name = job.name;
    let settings = job.settings;
    // The artifact that runs is the Substrait plan: the message whose bytes are written
    // beside the product is the one consumed. (It is not decoded back from the bytes:
    // protobuf decoding stops at 100 nested messages, which a chain of some thirty ANDs
    // already reaches; prost encodes and decodes its messages losslessly otherwise.)
    let substrait = rulec_substrait::to_substrait(job.plan)
        .map_err(|e| Diagnostic::error(codes::UNENCODABLE_PLAN, e.to_string()))?;
    let bytes = rulec_substrait::encode(&substrait);
    let logical = rulec_substrait::from_substrait(state, &substrait)
        .await
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?;
    let logical = match &job.append {
        None => logical,
        Some(append) => inputs::product_table(
            state,
            Path::new(""),
            &append.files,
            &[],
            Arc::clone(&append.schema),
        )
        .and_then(|new| scan_only(logical, append.input, new))
        .map_err(|e| Diagnostic::error(codes::EXECUTION_FAILED, e.to_string()))?,
    };
    let plans = match &settings.slices {
        None => vec![logical],
        Some(slices) => slice_plans(&logical, job.schema, name, slices)?,
    };
    let mut run_settings = job.run_settings.clone();
    let slices_session;
    let run_in = if settings.slices.is_some() {
        let (key, value) = slices::PUSHDOWN_SETTING;
        run_settings.insert(key.to_owned(), value.to_owned());
        slices_session = slices::session(state);
        &slices_session
    } else {
        state
    };
    let staging = publish::Staging::create(job.out_dir, name)
        .map_err(|e| write::write_error(name, "cannot create its staging directory", e))?;
    let product_dir = job.out_dir.join(name);
    if let Some(append) = &job.append {
        // The new version holds the previous one's data files (linked, not copied).
        for file in &append.previous.files {
            if let Err(e) =
                publish::link_or_copy(&product_dir.join(&file.name), &staging.dir.join(&file.name))
            {
                staging.discard();
                return Err(write::write_error(
                    name,
                    "cannot carry its earlier parts over",
                    e,
                ));
            }
        }
    }
    let row_group_bytes = settings.row_group_bytes.unwrap_or(write::ROW_GROUP_MEMORY);
    let target = write::Target {
        dir: &staging.dir,
        nonce: &staging.nonce,
        order: &settings.order_by,
        partition_by: &settings.partition_by,
        max_rows_per_file: settings.max_rows_per_file,
        row_group_bytes,
        compression: settings.compression,
        checks: &job.checks,
        plan: &bytes,
    };
    let written = match write::write_product(
        run_in,
        plans,
        Arc::clone(job.schema),
        &target,
        name,
        progress,
    )
    .await
    {
        Ok(written) => written,
        Err(d) => {
            staging.discard();
            return Err(d);
        }
    };
    let (rows, files) = match &job.append {
        None => (written.rows, written.data.clone()),
        Some(append) => (
            append.previous.rows + written.rows,
            append
                .previous
                .files
                .iter()
                .chain(&written.data)
                .cloned()
                .collect(),
        ),
    };
    let manifest = Manifest {
        manifest_version: state::MANIFEST_VERSION,
        product: name.to_owned(),
        build_id: job.build.clone(),
        rows,
        files,
        plan: written.plan.clone(),
        schema: job
            .schema
            .fields()
            .iter()
            .map(|f| ColumnEntry {
                name: f.name().clone(),
                data_type: rulec_contract::render_type(f.data_type()),
                nullable: f.is_nullable(),
            })
            .collect(),
        order: Ordering {
            tier: if settings.order_by.is_empty() {
                "none"
            } else {
                "sorted"
            }
            .to_owned(),
            by: settings.order_by.iter().map(SortKey::render).collect(),
        },
        layout: state::Layout {
            partition_by: settings.partition_by.clone(),
            max_rows_per_file: settings.max_rows_per_file,
            row_group_bytes,
            compression: settings.compression.render(),
        },
        settings: run_settings,
        errors: written
            .errors
            .clone()
            .map(|(file, rows)| state::ErrorsEntry { file, rows }),
        slices: settings.slices.clone(),
        appended_from: (settings.incremental == rulec_pack::Incremental::Append)
            .then(|| job.appended_from.clone()),
    };
    let committed = serde_json::to_string_pretty(&manifest)
        .map_err(std::io::Error::other)
        .and_then(|text| {
            state::write_atomically(&staging.dir.join(state::MANIFEST_FILE), text.as_bytes())
        });
    if let Err(e) = committed {
        staging.discard();
        return Err(Diagnostic::error(
            codes::WRITE_FAILED,
            format!("product `{name}`: cannot write its manifest: {e}"),
        ));
    }
    staging.publish(&product_dir).map_err(|e| {
        Diagnostic::error(
            codes::WRITE_FAILED,
            format!(
                "product `{name}`: cannot publish it as `{}`: {e}",
                product_dir.display()
            ),
        )
    })?;
    Ok((manifest, written.metrics))
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
    dir: &Path,
    manifest: &Manifest,
    schema: &SchemaRef,
) -> Result<(), Diagnostic> {
    let files: Vec<PathBuf> = manifest.files.iter().map(|f| dir.join(&f.name)).collect();
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

#[cfg(test)]
mod tests;
