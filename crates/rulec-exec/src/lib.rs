//! Execution: runs each rule's Substrait plan on DataFusion, in dependency order, and
//! writes each product as Parquet — incrementally, deterministically and crash-safely.
//!
//! Architecture invariant: this is the only crate that writes products (the CLI writes
//! what it is asked to, `plan --output`; the driver its check cache). A product is the
//! files its manifest names; new files get new names, and the manifest is replaced last,
//! atomically, so a run killed at any moment leaves every published product whole. A
//! product whose build id (see [`identity`]) is unchanged and whose files are intact is
//! reused, not recomputed; one run at a time holds an output directory ([`lock`]).

#![allow(
    clippy::result_large_err,
    reason = "errors are diagnostics, returned once per failed product: a cold path"
)]

mod build;
pub mod cluster;
pub mod identity;
mod inputs;
pub mod location;
pub mod lock;
mod objects;
pub mod profile;
pub mod publish;
pub mod replay;
mod runner;
mod session;
pub mod slices;
pub mod state;
mod store;
mod view;
mod write;

pub use identity::{BuildId, InputIdentity};
pub use inputs::{InputCheck, check_input};
pub use location::Location;
pub use lock::{OutputLock, lock_location, lock_output};
pub use profile::Profile;
pub use session::runtime_session;
pub use write::OperatorMetrics;

use build::output_settings;
use datafusion::prelude::SessionContext;
use rulec_compile::CompiledPack;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_lineage::PackLineage;
use rulec_pack::Pack;
use runner::Runner;
use state::Manifest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// Where products are written: `<out>/<product>/`, a local directory or an object-store
    /// prefix (`s3://bucket/prefix`).
    pub out: Location,
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
    /// Where products are computed.
    pub engine: Engine,
}

/// Where products are computed (see [`cluster`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// In this process.
    #[default]
    Local,
    /// On a Ballista cluster: its scheduler, `df://HOST:PORT`, or `standalone` for a scheduler
    /// and executors started in this process (the `ballista` feature).
    Ballista { scheduler: String },
}

impl RunOptions {
    pub fn new(pack_root: PathBuf, out: impl Into<Location>, profile: Profile) -> Self {
        RunOptions {
            pack_root,
            data_dir: None,
            out: out.into(),
            only: Vec::new(),
            force: false,
            verify: false,
            input_identity: InputIdentity::Metadata,
            profile,
            tolerant: false,
            jobs: default_jobs(),
            progress: None,
            engine: Engine::Local,
        }
    }
}

/// Products built at once unless a run says otherwise: one per core, at most 4 (on two
/// cores, two jobs built TPC-H SF1 and CPG x16 in 0.88x and 0.86x the time of one, for
/// 1.09x and 1.19x the peak memory; BENCHMARKS.md).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(4)
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
    /// The product's directory (or object-store prefix).
    pub path: Location,
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
    let Some(prepared) = prepare(pack, options, &wanted, &mut report.diagnostics).await else {
        return report;
    };
    let builds = prepared.build_ids(pack, compiled, lineage, options, options.tolerant);
    let runner = prepared.runner(pack, compiled, options, &builds, &report.settings);
    report.products = runner.products(&wanted).await;
    publish::remove_empty_staging(&prepared.staging);
    report
}

/// A run's session with the inputs its wanted rules read registered: what building and
/// replaying products start from.
pub(crate) struct Prepared {
    pub(crate) ctx: SessionContext,
    /// Input table → the identity of its data.
    identities: BTreeMap<String, String>,
    /// Each input's data files and their identities (what append-incremental products
    /// compare).
    files_of: BTreeMap<String, Vec<identity::FileIdentity>>,
    /// Where each input's data is, for naming the files of a product that fails to run.
    input_paths: BTreeMap<String, Location>,
    pub(crate) staging: PathBuf,
}

impl Prepared {
    /// The build ids of the pack's products, with output contracts tolerant or not.
    pub(crate) fn build_ids(
        &self,
        pack: &Pack,
        compiled: &CompiledPack,
        lineage: &PackLineage,
        options: &RunOptions,
        tolerant: bool,
    ) -> BTreeMap<String, identity::BuildId> {
        identity::build_ids(&identity::BuildContext {
            pack,
            compiled,
            lineage,
            inputs: &self.identities,
            profile_hash: options.profile.hash(),
            outputs: pack
                .rules
                .iter()
                .map(|r| (r.name.clone(), output_settings(pack, &r.name, tolerant)))
                .collect(),
        })
    }

    pub(crate) fn runner<'a>(
        &'a self,
        pack: &'a Pack,
        compiled: &'a CompiledPack,
        options: &'a RunOptions,
        builds: &'a BTreeMap<String, identity::BuildId>,
        run_settings: &'a BTreeMap<String, String>,
    ) -> Runner<'a> {
        Runner {
            pack,
            compiled,
            options,
            ctx: &self.ctx,
            builds,
            files_of: &self.files_of,
            input_paths: &self.input_paths,
            run_settings,
            staging: &self.staging,
            reuse_only: false,
        }
    }
}

/// The session of a run, with every input a wanted rule reads checked against its contract,
/// registered and identified; `None` (with the problems in `diagnostics`) when one is not
/// usable.
pub(crate) async fn prepare(
    pack: &Pack,
    options: &RunOptions,
    wanted: &BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Prepared> {
    let state = match options.profile.run_session() {
        Ok(state) => state,
        Err(d) => {
            diagnostics.push(d);
            return None;
        }
    };
    let state = match cluster::session_for(&options.engine, state).await {
        Ok(state) => state,
        Err(d) => {
            diagnostics.push(d);
            return None;
        }
    };
    let ctx = SessionContext::new_with_state(state);
    if let Location::Object(out) = &options.out
        && let Err(d) = objects::store(ctx.state().runtime_env(), out)
    {
        diagnostics.push(d);
        return None;
    }
    let staging = staging_root(&options.out);
    // What interrupted runs left half-built (the caller holds the lock: no run is building).
    publish::clean_staging(&staging);

    // Inputs first: every input a wanted rule reads must exist and match its contract.
    let needed_inputs: BTreeSet<&String> = pack
        .rules
        .iter()
        .filter(|r| wanted.contains(&r.name))
        .flat_map(|r| r.upstream_inputs.iter())
        .collect();
    let mut inputs_ok = true;
    let mut identities: BTreeMap<String, String> = BTreeMap::new();
    let mut files_of: BTreeMap<String, Vec<identity::FileIdentity>> = BTreeMap::new();
    let mut input_paths: BTreeMap<String, Location> = BTreeMap::new();
    for table in needed_inputs {
        let contract = &pack.contracts[table];
        let Some(declared) = pack.manifest.inputs.get(table) else {
            diagnostics.push(
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
        let location = match Location::resolve(base, declared) {
            Ok(location) => location,
            Err(why) => {
                diagnostics.push(
                    Diagnostic::error(
                        codes::STORAGE_UNAVAILABLE,
                        format!("input `{table}`: {why}"),
                    )
                    .in_file("pack.yaml"),
                );
                inputs_ok = false;
                continue;
            }
        };
        input_paths.insert(table.clone(), location.clone());
        let state = ctx.state();
        match inputs::checked_input(&state, table, &location, contract).await {
            Ok((provider, warnings, files)) => {
                diagnostics.extend(warnings);
                if let Err(e) = ctx.register_table(table.as_str(), provider) {
                    diagnostics.push(Diagnostic::error(
                        codes::EXECUTION_FAILED,
                        format!("cannot register input `{table}`: {e}"),
                    ));
                    inputs_ok = false;
                }
                match identity::input_files(&state, &files, options.input_identity).await {
                    Ok(files) => {
                        identities.insert(table.clone(), identity::files_identity(&files));
                        files_of.insert(table.clone(), files);
                    }
                    Err(e) => {
                        diagnostics.push(Diagnostic::error(
                            codes::INPUT_UNREADABLE,
                            format!(
                                "input `{table}`: cannot read `{location}`: {}",
                                rulec_compile::clean_message(&e)
                            ),
                        ));
                        inputs_ok = false;
                    }
                }
            }
            Err(ds) => {
                diagnostics.extend(ds);
                inputs_ok = false;
            }
        }
    }
    inputs_ok.then_some(Prepared {
        ctx,
        identities,
        files_of,
        input_paths,
        staging,
    })
}

/// Where new versions of products are built before they are published: beside the
/// products for a local output (a swap within one file system), in the system's temporary
/// directory for one on object storage (uploaded from there).
fn staging_root(out: &Location) -> PathBuf {
    match out {
        Location::Local(dir) => dir.join(publish::STAGING_DIR),
        Location::Object(object) => std::env::temp_dir().join(format!(
            "rulec-staging-{}",
            &rulec_contract::sha256_hex(object.to_string().as_bytes())[7..23]
        )),
    }
}

/// The wanted rules and everything they read (transitively).
pub(crate) fn wanted_rules(pack: &Pack, only: &[String]) -> BTreeSet<String> {
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

#[cfg(test)]
mod tests;
