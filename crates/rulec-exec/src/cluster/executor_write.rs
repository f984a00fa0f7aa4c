//! Products written by the executors that compute them (the `ballista` feature).
//!
//! A product's plans (one, or one per slice) go to the scheduler under a `RulecWriteProduct`
//! node: a logical extension node whose physical form, [`WriteExec`], runs on an executor in
//! the product's last stage. It runs rulec's one writer ([`write::write_rows`]): the output
//! contract's checks, the sort of sorted products, the files' layout, the refused rows of
//! tolerant mode. Its one output row is what it wrote (files, sizes, SHA-256, rows, metrics)
//! as JSON, which rulec records in the manifest before it publishes the version as for a
//! local run (staging directory swapped in, or manifest last on object storage).
//!
//! Where the files go: a local output's staging directory, at the same path on every
//! executor (shared storage, as for the inputs); for an `s3://` output, a temporary directory
//! of the executor, then uploaded below the product under their final names (unpublished
//! until the manifest names them). Each attempt of the task writes files of its own names
//! (`part-<nonce>-<attempt>-<n>.parquet`): when Ballista re-runs a task whose executor was
//! lost, what the lost attempt wrote is never taken for the new attempt's files, and is
//! deleted before publication (on object storage, when the manifest is written).
//!
//! The node and its physical form travel in the logical and physical codecs
//! ([`LogicalCodec`], [`PhysicalCodec`], wrapping Ballista's own), registered on the client,
//! the scheduler and the executors; the scheduler plans the node with [`QueryPlanner`].

use crate::Location;
use crate::write::{self, OutputChecks, Target, Written, WrittenRows};
use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef, DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message as _;
use rulec_diagnostics::{Diagnostic, codes};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// What a write node's bytes start with in a codec's buffer.
const CODEC_TAG: &[u8] = b"rulec.write_product.v1\n";

/// The one column of a write node's output: what was written, as JSON ([`WrittenRows`]).
const WRITTEN_COLUMN: &str = "written";

/// How a diagnostic raised on an executor is carried in the task's error text, so that the
/// client reports it with its code: `[rulec R004] message`.
const DIAGNOSTIC_TAG: &str = "[rulec ";

/// Where an executor writes a product's files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, serde::Serialize, serde::Deserialize)]
enum Destination {
    /// The new version's staging directory, at this path on every executor.
    Directory(PathBuf),
    /// The product's prefix on object storage (`s3://bucket/key`).
    Objects(String),
}

/// Everything an executor needs to write a product's rows (see [`Target`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, serde::Serialize, serde::Deserialize)]
struct WriteSpec {
    product: String,
    destination: Destination,
    /// The version's nonce; an attempt adds its own.
    nonce: String,
    /// Sort keys as written in pack.yaml (`col desc`).
    order: Vec<String>,
    partition_by: Vec<String>,
    max_rows_per_file: Option<u64>,
    row_group_bytes: u64,
    compression: String,
    not_null: Vec<String>,
    key: Vec<String>,
    tolerant: bool,
    /// The product's schema, as DataFusion's protobuf `Schema`.
    schema: Vec<u8>,
}

impl WriteSpec {
    fn new(target: &Target<'_>, out: &Location, schema: &Schema, product: &str) -> Result<Self> {
        let destination = match out {
            Location::Local(_) => Destination::Directory(std::path::absolute(target.dir)?),
            Location::Object(object) => Destination::Objects(object.to_string()),
        };
        Ok(WriteSpec {
            product: product.to_owned(),
            destination,
            nonce: target.nonce.to_owned(),
            order: target
                .order
                .iter()
                .map(rulec_pack::SortKey::render)
                .collect(),
            partition_by: target.partition_by.to_vec(),
            max_rows_per_file: target.max_rows_per_file,
            row_group_bytes: target.row_group_bytes,
            compression: target.compression.render(),
            not_null: target.checks.not_null.clone(),
            key: target.checks.key.clone(),
            tolerant: target.checks.tolerant,
            schema: datafusion_proto::protobuf::Schema::try_from(schema)
                .map_err(|e| DataFusionError::External(Box::new(e)))?
                .encode_to_vec(),
        })
    }

    fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(CODEC_TAG);
        serde_json::to_writer(buf, self).map_err(|e| DataFusionError::External(Box::new(e)))
    }

    /// The spec in `buf`, if `buf` holds one.
    fn decode(buf: &[u8]) -> Option<Result<Self>> {
        let json = buf.strip_prefix(CODEC_TAG)?;
        Some(serde_json::from_slice(json).map_err(|e| DataFusionError::External(Box::new(e))))
    }

    fn product_schema(&self) -> Result<SchemaRef> {
        let proto = datafusion_proto::protobuf::Schema::decode(self.schema.as_slice())
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Arc::new(
            Schema::try_from(&proto).map_err(|e| DataFusionError::External(Box::new(e)))?,
        ))
    }
}

fn written_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        WRITTEN_COLUMN,
        DataType::Utf8,
        false,
    )]))
}

/// The logical write node: its inputs are the product's plans, computed one after the other
/// into one version's files.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WriteNode {
    inputs: Vec<LogicalPlan>,
    spec: WriteSpec,
    schema: DFSchemaRef,
}

impl WriteNode {
    fn new(inputs: Vec<LogicalPlan>, spec: WriteSpec) -> Result<Self> {
        Ok(WriteNode {
            inputs,
            spec,
            schema: Arc::new(DFSchema::try_from(written_schema().as_ref().clone())?),
        })
    }
}

impl PartialOrd for WriteNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match self.spec.partial_cmp(&other.spec) {
            Some(std::cmp::Ordering::Equal) => self.inputs.partial_cmp(&other.inputs),
            ordering => ordering,
        }
    }
}

impl UserDefinedLogicalNodeCore for WriteNode {
    fn name(&self) -> &str {
        "RulecWriteProduct"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "RulecWriteProduct: product={}", self.spec.product)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(WriteNode {
            inputs,
            spec: self.spec.clone(),
            schema: Arc::clone(&self.schema),
        })
    }

    /// Every column of every input is written.
    fn necessary_children_exprs(&self, _output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        Some(
            self.inputs
                .iter()
                .map(|input| (0..input.schema().fields().len()).collect())
                .collect(),
        )
    }
}

/// The physical write: one partition, which executes its inputs in turn (each as one
/// partition) into the product's files and yields one row, what it wrote.
#[derive(Debug)]
pub(crate) struct WriteExec {
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    spec: Arc<WriteSpec>,
    properties: Arc<PlanProperties>,
}

impl WriteExec {
    fn new(inputs: Vec<Arc<dyn ExecutionPlan>>, spec: Arc<WriteSpec>) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(written_schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        WriteExec {
            inputs,
            spec,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for WriteExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "RulecWriteExec: product={}", self.spec.product)
    }
}

impl ExecutionPlan for WriteExec {
    fn name(&self) -> &str {
        "RulecWriteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition; self.inputs.len()]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.inputs.len()]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(WriteExec::new(children, Arc::clone(&self.spec))))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "RulecWriteExec has one partition, not {partition}"
            )));
        }
        let inputs = self.inputs.clone();
        let spec = Arc::clone(&self.spec);
        let written = async move {
            let rows = write_on_executor(inputs, context, &spec)
                .await
                .map_err(|d| DataFusionError::External(format!("{}", Carried(&d)).into()))?;
            let json =
                serde_json::to_string(&rows).map_err(|e| DataFusionError::External(Box::new(e)))?;
            RecordBatch::try_new(
                written_schema(),
                vec![Arc::new(StringArray::from(vec![json]))],
            )
            .map_err(DataFusionError::from)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            written_schema(),
            futures::stream::once(written),
        )))
    }
}

/// A diagnostic as carried in a task's error text (see [`DIAGNOSTIC_TAG`]): its code, and its
/// message percent-encoded, so that no quoting or escaping on the way changes it.
struct Carried<'a>(&'a Diagnostic);

impl fmt::Display for Carried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut message = String::new();
        crate::location::percent_encode_into(&self.0.message, &mut message);
        write!(f, "{DIAGNOSTIC_TAG}{} {message}]", self.0.code.code)
    }
}

/// The diagnostic an executor raised, if the error text of a failed job carries one.
fn carried(error: &str) -> Option<Diagnostic> {
    let start = error.find(DIAGNOSTIC_TAG)? + DIAGNOSTIC_TAG.len();
    let (carried, _) = error[start..].split_once(']')?;
    let (code, encoded) = carried.split_once(' ')?;
    let code = codes::lookup(code)?;
    let mut message = Vec::with_capacity(encoded.len());
    let mut bytes = encoded.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            message.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            message.push(byte);
        }
    }
    Some(Diagnostic::error(code, String::from_utf8(message).ok()?))
}

/// Runs on the executor: writes the rows of `inputs` where the spec says, with a name of
/// this attempt's own.
async fn write_on_executor(
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    task: Arc<TaskContext>,
    spec: &WriteSpec,
) -> Result<WrittenRows, Diagnostic> {
    let name = spec.product.as_str();
    let invalid = |what: &str| write::write_error(name, "cannot read its write settings", what);
    let order = spec
        .order
        .iter()
        .map(|k| rulec_pack::SortKey::parse(k).ok_or_else(|| invalid(k)))
        .collect::<Result<Vec<_>, _>>()?;
    let compression = rulec_pack::Compression::parse(&spec.compression)
        .ok_or_else(|| invalid(&spec.compression))?;
    let schema = spec.product_schema().map_err(|e| invalid(&e.to_string()))?;
    let checks = OutputChecks {
        not_null: spec.not_null.clone(),
        key: spec.key.clone(),
        tolerant: spec.tolerant,
    };
    let nonce = format!("{}-{}", spec.nonce, crate::publish::nonce());
    let (dir, upload_to) = match &spec.destination {
        Destination::Directory(dir) => (dir.clone(), None),
        Destination::Objects(url) => {
            let Ok(Location::Object(object)) = Location::parse(url) else {
                return Err(invalid(url));
            };
            let dir = std::env::temp_dir().join(format!("rulec-write-{name}-{nonce}"));
            (dir, Some(object))
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| write::write_error(name, &format!("cannot create `{}`", dir.display()), e))?;
    let target = Target {
        dir: &dir,
        nonce: &nonce,
        order: &order,
        partition_by: &spec.partition_by,
        max_rows_per_file: spec.max_rows_per_file,
        row_group_bytes: spec.row_group_bytes,
        compression,
        checks: &checks,
        plan: &[],
    };
    let written = write::write_rows(inputs, Arc::clone(&task), schema, &target, name, None).await;
    let Some(object) = upload_to else {
        return written;
    };
    let uploaded = match written {
        Ok(rows) => {
            async {
                let store = crate::objects::store(task.runtime_env().as_ref(), &object)?;
                for file in rows.data.iter().chain(rows.errors.as_ref().map(|e| &e.0)) {
                    crate::objects::upload(
                        store.as_ref(),
                        &dir.join(&file.name),
                        &object.join(&file.name).path(),
                    )
                    .await
                    .map_err(|e| {
                        write::write_error(name, &format!("cannot upload `{}`", file.name), e)
                    })?;
                }
                Ok(rows)
            }
            .await
        }
        Err(d) => Err(d),
    };
    let _ = std::fs::remove_dir_all(&dir);
    uploaded
}

/// Computes a product on the cluster and has the executor write its files (the module's
/// doc); rulec writes the plan file. What was written comes back for the manifest.
pub(crate) async fn write_product(
    state: &SessionState,
    plans: Vec<LogicalPlan>,
    schema: SchemaRef,
    target: &Target<'_>,
    out: &Location,
    name: &str,
) -> Result<Written, Diagnostic> {
    let plan = write::write_plan_file(target, name)?;
    let failed = |e: &DataFusionError| {
        carried(&e.to_string()).unwrap_or_else(|| {
            Diagnostic::error(
                codes::EXECUTION_FAILED,
                format!("product `{name}`: {}", rulec_compile::clean_message(e)),
            )
        })
    };
    let spec = WriteSpec::new(target, out, &schema, name).map_err(|e| failed(&e))?;
    let node = WriteNode::new(plans, spec).map_err(|e| failed(&e))?;
    let result = async {
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        });
        let physical = state.create_physical_plan(&plan).await?;
        datafusion::physical_plan::collect(physical, state.task_ctx()).await
    }
    .await;
    let rows = result
        .map_err(|e| failed(&e))
        .and_then(|batches| written_rows(&batches, name));
    let rows = match rows {
        Ok(rows) => rows,
        Err(d) => {
            remove_unpublished(state, target, out).await;
            return Err(d);
        }
    };
    if out.as_local().is_some() {
        remove_strays(target.dir, &rows, &plan);
    }
    Ok(Written::new(plan, rows))
}

/// The one row a write node yields.
fn written_rows(batches: &[RecordBatch], name: &str) -> Result<WrittenRows, Diagnostic> {
    let bad = |why: &str| {
        Diagnostic::error(
            codes::EXECUTION_FAILED,
            format!("product `{name}`: the executor's report of what it wrote {why}"),
        )
    };
    let texts: Vec<&str> = batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<StringArray>())
        .flat_map(|a| a.iter().flatten())
        .collect();
    let [text] = texts.as_slice() else {
        return Err(bad(&format!("has {} rows, not 1", texts.len())));
    };
    serde_json::from_str(text).map_err(|e| bad(&format!("is unreadable: {e}")))
}

/// Removes from a local staging directory the files of task attempts that did not finish
/// (an executor lost mid-write): every data or errors file the report does not name.
fn remove_strays(dir: &std::path::Path, rows: &WrittenRows, plan: &crate::state::FileEntry) {
    let keep: std::collections::BTreeSet<PathBuf> = rows
        .data
        .iter()
        .chain(rows.errors.as_ref().map(|e| &e.0))
        .chain([plan])
        .map(|f| dir.join(&f.name))
        .collect();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if !keep.contains(&path) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// After a failed write to object storage: deletes what the executors uploaded for this
/// version (its files carry the version's nonce); the published version is untouched.
async fn remove_unpublished(state: &SessionState, target: &Target<'_>, out: &Location) {
    let Location::Object(object) = out else {
        return;
    };
    let Ok(store) = crate::objects::store(state.runtime_env(), object) else {
        return;
    };
    crate::objects::delete_version(store.as_ref(), object, target.nonce).await;
}

/// Plans write nodes ([`WriteExec`]); everything else as DataFusion does.
#[derive(Debug, Default)]
struct WritePlanner;

#[async_trait]
impl ExtensionPlanner for WritePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<WriteNode>() else {
            return Ok(None);
        };
        Ok(Some(Arc::new(WriteExec::new(
            physical_inputs.to_vec(),
            Arc::new(node.spec.clone()),
        ))))
    }
}

/// The query planner of the scheduler's sessions: DataFusion's, with write nodes.
#[derive(Debug, Default)]
pub(crate) struct QueryPlanner;

#[async_trait]
impl datafusion::execution::context::QueryPlanner for QueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(WritePlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}

/// Ballista's logical codec, with write nodes.
#[derive(Debug, Default)]
pub(crate) struct LogicalCodec(ballista_core::serde::BallistaLogicalExtensionCodec);

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        match WriteSpec::decode(buf) {
            Some(spec) => Ok(Extension {
                node: Arc::new(WriteNode::new(inputs.to_vec(), spec?)?),
            }),
            None => self.0.try_decode(buf, inputs, ctx),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        match node.node.as_any().downcast_ref::<WriteNode>() {
            Some(write) => write.spec.encode(buf),
            None => self.0.try_encode(node, buf),
        }
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &datafusion::common::TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        self.0
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &datafusion::common::TableReference,
        node: Arc<dyn datafusion::catalog::TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.0.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.0.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.0.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec, with [`WriteExec`].
#[derive(Debug, Default)]
pub(crate) struct PhysicalCodec(ballista_core::serde::BallistaPhysicalExtensionCodec);

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match WriteSpec::decode(buf) {
            Some(spec) => Ok(Arc::new(WriteExec::new(inputs.to_vec(), Arc::new(spec?)))),
            None => self.0.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match node.downcast_ref::<WriteExec>() {
            Some(write) => write.spec.encode(buf),
            None => self.0.try_encode(node, buf, proto_converter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executors_diagnostic_keeps_its_code() {
        let message = "product `p`: `id` is null\nin row 3 [x] \"ü\" 100%";
        let d = Diagnostic::error(codes::lookup("O004").expect("O004"), message);
        // As a job's error text quotes it, escaped.
        let text = format!(
            "{:?}",
            format!("Job abc failed: External error: {}", Carried(&d))
        );
        let back = carried(&text).expect("carried");
        assert_eq!((back.code.code, back.message.as_str()), ("O004", message));
        assert!(carried("Job failed: an engine error").is_none());
        assert!(carried("[rulec NOPE x]").is_none(), "an unknown code");
    }
}
