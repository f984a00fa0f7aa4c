//! Building one product: its `ProductJob` (plan, settings, checks, where it goes), its
//! Substrait plan consumed and executed into a staging directory, the manifest, the
//! publication; appends (only an input's new files, as a new part); the text of a
//! product's output settings for its build id.

use crate::identity::{self, BuildId};
use crate::state::{self, ColumnEntry, Manifest, Ordering};
use crate::{Engine, Location};
use crate::{OperatorMetrics, ProgressSink, inputs, publish, slices, write};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SessionState;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::{Pack, ProductSettings, SliceSetting, SortKey};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// What a product's output settings are, as text for its build id: its layout (order,
/// slices, partitions, files, compression, appends), the output contract's checks,
/// tolerance (invalid settings give their error text, so that fixing them rebuilds).
pub(crate) fn output_settings(pack: &Pack, name: &str, tolerant: bool) -> String {
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
pub(crate) fn output_checks(
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

/// The plans of a product's slices: `plan` (whose columns are the product's, by position)
/// with each slice's filter at its scans.
pub(crate) fn slice_plans(
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
pub(crate) struct ProductJob<'a> {
    pub(crate) name: &'a str,
    pub(crate) plan: &'a datafusion::logical_expr::LogicalPlan,
    pub(crate) schema: &'a SchemaRef,
    pub(crate) settings: &'a ProductSettings,
    pub(crate) checks: write::OutputChecks,
    /// The product's directory (or object-store prefix).
    pub(crate) out: &'a Location,
    /// Where its new version is built ([`publish::Staging`]).
    pub(crate) staging: &'a Path,
    /// Where its rows are computed and its files written.
    pub(crate) engine: &'a Engine,
    pub(crate) build: &'a BuildId,
    /// Every effective runtime setting, recorded in the manifest.
    pub(crate) run_settings: &'a BTreeMap<String, String>,
    /// The files of the inputs it can be appended from, recorded in the manifest.
    pub(crate) appended_from: BTreeMap<String, Vec<identity::FileIdentity>>,
    /// Set: add a part computed from these new files of one input to the previous version.
    pub(crate) append: Option<Append<'a>>,
}

/// An append to a product: its query over the new files of one input, as a new part.
#[derive(Debug)]
pub(crate) struct Append<'a> {
    pub(crate) previous: &'a Manifest,
    pub(crate) input: &'a str,
    /// The input's contract schema.
    pub(crate) schema: SchemaRef,
    pub(crate) files: Vec<Location>,
}

/// What an append-incremental product's update is, when only an input it is row-local in
/// gained files: `None` if it is not such a product (or has no record of its inputs' files),
/// else the append, or why it is rebuilt whole.
pub(crate) fn append_update(
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
pub(crate) struct AppendUpdate {
    pub(crate) input: String,
    pub(crate) new_files: Vec<identity::FileIdentity>,
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

/// Where and how a product with `settings` is written into `staging` (a build's, or a
/// replay's).
pub(crate) fn write_target<'a>(
    settings: &'a ProductSettings,
    staging: &'a publish::Staging,
    checks: &'a write::OutputChecks,
    plan: &'a [u8],
) -> write::Target<'a> {
    write::Target {
        dir: &staging.dir,
        nonce: &staging.nonce,
        order: &settings.order_by,
        partition_by: &settings.partition_by,
        max_rows_per_file: settings.max_rows_per_file,
        row_group_bytes: settings.row_group_bytes.unwrap_or(write::ROW_GROUP_MEMORY),
        compression: settings.compression,
        checks,
        plan,
    }
}

/// Computes a product into a staging directory — data, plan, errors, manifest last — and
/// publishes it in place of the product's directory (see [`publish`]).
pub(crate) async fn build_product(
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
        Some(append) => inputs::files_table(state, &append.files, Arc::clone(&append.schema), None)
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
        slices_session = slices::pushdown_session(state);
        &slices_session
    } else {
        state
    };
    let staging = publish::Staging::create(job.staging, name)
        .map_err(|e| write::write_error(name, "cannot create its staging directory", e))?;
    if let (Some(append), Location::Local(product_dir)) = (&job.append, job.out) {
        // The new version holds the previous one's data files (linked, not copied; on
        // object storage they stay where they are, named by the new manifest too).
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
    let target = write_target(settings, &staging, &job.checks, &bytes);
    let row_group_bytes = target.row_group_bytes;
    let written = match job.engine {
        Engine::Local => {
            write::write_product(
                run_in,
                plans,
                Arc::clone(job.schema),
                &target,
                name,
                progress,
            )
            .await
        }
        Engine::Ballista { .. } => {
            crate::cluster::write_on_executors(
                run_in,
                plans,
                Arc::clone(job.schema),
                &target,
                job.out,
                name,
            )
            .await
        }
    };
    let written = match written {
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
    let published = match job.out {
        Location::Local(product_dir) => staging.publish(product_dir),
        Location::Object(object) => {
            let result = match crate::objects::store(state.runtime_env(), object) {
                Ok(store) => {
                    crate::objects::publish(store.as_ref(), &staging.dir, object, &manifest).await
                }
                Err(d) => Err(std::io::Error::other(d.message)),
            };
            staging.discard();
            result
        }
    };
    published.map_err(|e| {
        Diagnostic::error(
            codes::WRITE_FAILED,
            format!("product `{name}`: cannot publish it as `{}`: {e}", job.out),
        )
    })?;
    Ok((manifest, written.metrics))
}
