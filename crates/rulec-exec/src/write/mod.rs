//! Writing a product: execute its plan (sorted when it declares an order), check and conform
//! its rows, and stream them into Parquet files in the product's staging directory (see
//! [`crate::publish`]); return what was written. The caller publishes it.
//!
//! - [`checks`]: the output contract's row checks and the cast to the product's schema;
//! - [`sort`]: sorted products (the sort, fixed-size batches, `sorting_columns`);
//! - [`files`]: the files (Hive partitions, rolling files, row groups).

mod checks;
mod files;
mod sort;

pub use checks::OutputChecks;
pub use files::FileLayout;

use crate::state::{FileEntry, sha256_file};
use checks::{Checker, conform};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression as ParquetCompression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::ExecutionPlan;
use files::ProductFiles;
use futures::StreamExt;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::{Compression, SortKey};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub(crate) fn write_error(name: &str, what: &str, err: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        codes::WRITE_FAILED,
        format!("product `{name}`: {what}: {err}"),
    )
}

fn exec_error(name: &str, err: &datafusion::error::DataFusionError) -> Diagnostic {
    Diagnostic::error(
        codes::EXECUTION_FAILED,
        format!("product `{name}`: {}", rulec_compile::clean_message(err)),
    )
}

/// The memory a row group may take in the writer before it is written out, unless the
/// product says otherwise (`row_group_bytes`). The engine's row-group size counts rows
/// (about a million); a product of few rows holding long lists would otherwise be held
/// whole, encoded, until its end. (What the writer holds depends only on the rows written
/// so far, so a sorted product's row groups are the same run to run.)
pub const ROW_GROUP_MEMORY: u64 = 64 << 20;

/// Where and how a product's files are written.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The staging directory of the product's new version.
    pub dir: &'a Path,
    /// The version's nonce: new files are `part-<nonce>-<n>.parquet`.
    pub nonce: &'a str,
    pub order: &'a [SortKey],
    pub partition_by: &'a [String],
    pub max_rows_per_file: Option<u64>,
    pub row_group_bytes: u64,
    pub compression: Compression,
    /// The output contract's row checks.
    pub checks: &'a OutputChecks,
    /// The Substrait plan's bytes, written beside the data.
    pub plan: &'a [u8],
}

/// What `write_product` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub rows: u64,
    pub data: Vec<FileEntry>,
    pub plan: FileEntry,
    /// Rows refused by the output contract in tolerant mode, and the file that holds them.
    pub errors: Option<(FileEntry, u64)>,
    pub metrics: Vec<OperatorMetrics>,
}

impl Written {
    /// The version whose plan file is `plan` and whose rows [`write_rows`] wrote.
    pub(crate) fn new(plan: FileEntry, rows: WrittenRows) -> Self {
        Written {
            rows: rows.rows,
            data: rows.data,
            plan,
            errors: rows.errors,
            metrics: rows.metrics,
        }
    }
}

/// Metrics of one operator of the executed plan.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OperatorMetrics {
    pub operator: String,
    pub depth: usize,
    pub output_rows: Option<usize>,
    pub elapsed_compute_ns: Option<usize>,
    pub spilled_bytes: Option<usize>,
}

/// Executes `plans` one after the other (the slices of a product built in slices, else one
/// plan) and writes their rows into the target's directory, with the Substrait plan as
/// `_rulec/plan-<nonce>.substrait` (see [`write_rows`]).
pub async fn write_product(
    state: &SessionState,
    plans: Vec<LogicalPlan>,
    schema: SchemaRef,
    target: &Target<'_>,
    name: &str,
    progress: Option<&crate::ProgressSink>,
) -> Result<Written, Diagnostic> {
    let plan = write_plan_file(target, name)?;
    let mut physical = Vec::with_capacity(plans.len());
    for plan in plans {
        physical.push(
            state
                .create_physical_plan(&plan)
                .await
                .map_err(|e| exec_error(name, &e))?,
        );
    }
    let rows = write_rows(physical, state.task_ctx(), schema, target, name, progress).await?;
    Ok(Written::new(plan, rows))
}

/// Writes the target's Substrait plan as `_rulec/plan-<nonce>.substrait` in its directory.
pub(crate) fn write_plan_file(target: &Target<'_>, name: &str) -> Result<FileEntry, Diagnostic> {
    let meta = target.dir.join(crate::state::META_DIR);
    std::fs::create_dir_all(&meta)
        .map_err(|e| write_error(name, &format!("cannot create `{}`", meta.display()), e))?;
    let plan_name = format!("{}/plan-{}.substrait", crate::state::META_DIR, target.nonce);
    let path = target.dir.join(&plan_name);
    let mut file = File::create(&path).map_err(|e| write_error(name, "cannot write plan", e))?;
    std::io::Write::write_all(&mut file, target.plan)
        .and_then(|()| file.sync_all())
        .map_err(|e| write_error(name, "cannot write plan", e))?;
    file_entry(target.dir, &plan_name, None, name)
}

/// What [`write_rows`] wrote: the rows, the data files, the refused rows' file (tolerant
/// mode) and the executed operators' metrics. (Executors that write a product send it back
/// to rulec as JSON.)
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WrittenRows {
    pub rows: u64,
    pub data: Vec<FileEntry>,
    pub errors: Option<(FileEntry, u64)>,
    pub metrics: Vec<OperatorMetrics>,
}

/// Executes `plans` (physical plans, one after the other) and writes their rows into the
/// target's directory as `part-<nonce>-<n>.parquet` files (refused rows, in tolerant mode,
/// as `_rulec/errors-<nonce>.parquet`). With an order, rows are sorted by the keys, then by
/// every other column that can order rows (so that ties are ordered too), and the keys are
/// recorded as Parquet `sorting_columns`. This is the one writer of product files, in
/// rulec's process or on the executor that computes the product.
pub(crate) async fn write_rows(
    plans: Vec<Arc<dyn ExecutionPlan>>,
    task: Arc<datafusion::execution::TaskContext>,
    schema: SchemaRef,
    target: &Target<'_>,
    name: &str,
    progress: Option<&crate::ProgressSink>,
) -> Result<WrittenRows, Diagnostic> {
    let errors_name = format!("{}/errors-{}.parquet", crate::state::META_DIR, target.nonce);
    let mut checker =
        Checker::new(target.checks, &schema).map_err(|e| write_error(name, "output checks", e))?;
    let partition_by = target
        .partition_by
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| write_error(name, "partition columns", e))?;
    let data_columns: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !partition_by.contains(i))
        .collect();
    let file_schema = Arc::new(
        schema
            .project(&data_columns)
            .map_err(|e| write_error(name, "partition columns", e))?,
    );
    let mut properties = WriterProperties::builder().set_compression(match target.compression {
        Compression::Zstd(level) => ParquetCompression::ZSTD(
            ZstdLevel::try_new(level).map_err(|e| write_error(name, "compression", e))?,
        ),
        Compression::Snappy => ParquetCompression::SNAPPY,
        Compression::None => ParquetCompression::UNCOMPRESSED,
    });
    if !target.order.is_empty() {
        properties =
            properties.set_sorting_columns(Some(sort::sorting_columns(&file_schema, target.order)));
    }
    let layout = FileLayout {
        partition_by,
        data_columns,
        file_schema,
        max_rows_per_file: target.max_rows_per_file,
        row_group_bytes: usize::try_from(target.row_group_bytes).unwrap_or(usize::MAX),
        rebatch: !target.order.is_empty(),
        properties: properties.build(),
    };
    let prefix = format!("part-{}", target.nonce);
    let bytes = Arc::new(AtomicU64::new(0));
    let files = ProductFiles::new(target.dir, &prefix, layout, Arc::clone(&bytes));
    let writer = WriterThread::start(files);
    let executed = execute_into(
        plans,
        &task,
        &schema,
        name,
        target.order,
        RowSink {
            checker: &mut checker,
            writer: &writer,
            progress: progress.map(|sink| (sink, bytes.as_ref())),
        },
    )
    .await;
    // The writer is finished (and its files closed) whatever happened, before any error is
    // returned and the staging directory removed.
    let finished = writer.finish().await;
    let (rows, metrics, files) = match (executed, finished) {
        (Ok((rows, metrics)), Ok(files)) => (rows, metrics, files),
        // A partition column's NULL is the writer's refusal, and says why.
        (_, Err(e)) => return Err(write_error(name, "cannot write rows", e)),
        (Err(d), Ok(_)) => return Err(d),
    };
    let errors = if checker.refused.is_empty() {
        None
    } else {
        let meta = target.dir.join(crate::state::META_DIR);
        std::fs::create_dir_all(&meta)
            .map_err(|e| write_error(name, &format!("cannot create `{}`", meta.display()), e))?;
        write_refused(&target.dir.join(&errors_name), &checker.refused, name)?;
        Some((
            file_entry(target.dir, &errors_name, None, name)?,
            checker.refused.len() as u64,
        ))
    };
    let data = files
        .iter()
        .map(|f| file_entry(target.dir, &f.name, Some(f.rows), name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WrittenRows {
        rows,
        data,
        errors,
        metrics,
    })
}

/// The manifest entry of the written file `relative` (below `dir`): its size and SHA-256.
fn file_entry(
    dir: &Path,
    relative: &str,
    rows: Option<u64>,
    name: &str,
) -> Result<FileEntry, Diagnostic> {
    let path = dir.join(relative);
    Ok(FileEntry {
        name: relative.to_owned(),
        bytes: std::fs::metadata(&path)
            .map_err(|e| write_error(name, "cannot read back", e))?
            .len(),
        sha256: sha256_file(&path).map_err(|e| write_error(name, "cannot read back", e))?,
        rows,
    })
}

/// Executes `plans` in turn, checks their rows and hands them to `writer`. Returns the rows
/// written and the operators' metrics.
async fn execute_into(
    plans: Vec<Arc<dyn ExecutionPlan>>,
    task: &Arc<datafusion::execution::TaskContext>,
    schema: &SchemaRef,
    name: &str,
    order: &[SortKey],
    sink: RowSink<'_>,
) -> Result<(u64, Vec<OperatorMetrics>), Diagnostic> {
    let RowSink {
        checker,
        writer,
        progress,
    } = sink;
    let mut rows = 0u64;
    let mut metrics_total: Vec<OperatorMetrics> = Vec::new();
    for physical in plans {
        let physical = if order.is_empty() {
            physical
        } else {
            sort::sorted(physical, schema, order).map_err(|e| exec_error(name, &e))?
        };
        let mut stream =
            datafusion::physical_plan::execute_stream(Arc::clone(&physical), Arc::clone(task))
                .map_err(|e| exec_error(name, &e))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| exec_error(name, &e))?;
            let batch = conform(&batch, schema, name)?;
            let batch = checker.check(batch, name)?;
            let batch = RecordBatch::try_new(Arc::clone(schema), batch.columns().to_vec())
                .map_err(|e| write_error(name, "rows do not fit the product's schema", e))?;
            rows += batch.num_rows() as u64;
            if let Some((sink, bytes)) = progress {
                (sink.0)(crate::ProgressEvent::Rows {
                    product: name,
                    rows,
                    bytes: bytes.load(std::sync::atomic::Ordering::Relaxed),
                });
            }
            writer.write(batch, name).await?;
        }
        add_metrics(&mut metrics_total, metrics(&physical));
    }
    Ok((rows, metrics_total))
}

/// Where a product's rows go once computed: the output contract's checks, the writer, and
/// the progress display (with the bytes written so far).
struct RowSink<'a> {
    checker: &'a mut Checker,
    writer: &'a WriterThread,
    progress: Option<(&'a crate::ProgressSink, &'a AtomicU64)>,
}

/// Batches queued for the writer: encoding and compressing one overlaps executing the next.
const WRITER_QUEUE: usize = 1;

/// The product's files on a blocking thread of their own, fed through a bounded queue, so
/// that encoding runs beside the engine instead of between its batches.
struct WriterThread {
    sender: tokio::sync::mpsc::Sender<RecordBatch>,
    handle: tokio::task::JoinHandle<datafusion::parquet::errors::Result<Vec<files::WrittenFile>>>,
}

impl WriterThread {
    fn start(mut files: ProductFiles) -> Self {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<RecordBatch>(WRITER_QUEUE);
        let handle = tokio::task::spawn_blocking(move || {
            while let Some(batch) = receiver.blocking_recv() {
                files.write(&batch)?;
            }
            files.finish()
        });
        WriterThread { sender, handle }
    }

    /// Queues `batch`. If the writer has stopped (on an error), the error is what
    /// [`Self::finish`] returns; this says only that writing cannot go on.
    async fn write(&self, batch: RecordBatch, name: &str) -> Result<(), Diagnostic> {
        self.sender
            .send(batch)
            .await
            .map_err(|_| write_error(name, "cannot write rows", "the writer stopped"))
    }

    /// Ends the queue, waits for the queued batches to be written, then closes the files.
    async fn finish(self) -> datafusion::parquet::errors::Result<Vec<files::WrittenFile>> {
        let WriterThread { sender, handle } = self;
        drop(sender);
        handle.await.map_err(|e| {
            datafusion::parquet::errors::ParquetError::General(format!("the writer failed: {e}"))
        })?
    }
}

/// Writes refused rows: (row, code, stage, message).
fn write_refused(
    path: &Path,
    refused: &[(String, &'static str, String)],
    name: &str,
) -> Result<(), Diagnostic> {
    use datafusion::arrow::array::LargeStringArray as StringArray;
    use datafusion::arrow::datatypes::{Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("row", DataType::LargeUtf8, false),
        Field::new("code", DataType::LargeUtf8, false),
        Field::new("stage", DataType::LargeUtf8, false),
        Field::new("message", DataType::LargeUtf8, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                refused.iter().map(|r| r.0.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(refused.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(
                refused.iter().map(|_| "output-contract"),
            )),
            Arc::new(StringArray::from_iter_values(
                refused.iter().map(|r| r.2.as_str()),
            )),
        ],
    )
    .map_err(|e| write_error(name, "cannot record refused rows", e))?;
    let file =
        File::create(path).map_err(|e| write_error(name, "cannot create the error file", e))?;
    let mut writer = ArrowWriter::try_new(file, schema, None)
        .map_err(|e| write_error(name, "cannot write the error file", e))?;
    writer
        .write(&batch)
        .map_err(|e| write_error(name, "cannot write the error file", e))?;
    let file = writer
        .into_inner()
        .map_err(|e| write_error(name, "cannot write the error file", e))?;
    file.sync_all()
        .map_err(|e| write_error(name, "cannot sync the error file", e))
}

/// Every operator's metrics, depth-first.
fn metrics(plan: &Arc<dyn ExecutionPlan>) -> Vec<OperatorMetrics> {
    fn walk(plan: &Arc<dyn ExecutionPlan>, depth: usize, out: &mut Vec<OperatorMetrics>) {
        let set = plan.metrics();
        out.push(OperatorMetrics {
            operator: plan.name().to_owned(),
            depth,
            output_rows: set.as_ref().and_then(|m| m.output_rows()),
            elapsed_compute_ns: set.as_ref().and_then(|m| m.elapsed_compute()),
            spilled_bytes: set.as_ref().and_then(|m| m.spilled_bytes()),
        });
        for child in plan.children() {
            walk(child, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(plan, 0, &mut out);
    out
}

/// Adds one execution's metrics to `total`: a product built in slices runs the same plan
/// shape once per slice, and reports each operator's sums.
fn add_metrics(total: &mut Vec<OperatorMetrics>, more: Vec<OperatorMetrics>) {
    let same_shape = total.len() == more.len()
        && total
            .iter()
            .zip(&more)
            .all(|(a, b)| a.operator == b.operator && a.depth == b.depth);
    if !same_shape {
        total.extend(more);
        return;
    }
    let add = |a: &mut Option<usize>, b: Option<usize>| {
        *a = match (*a, b) {
            (Some(x), Some(y)) => Some(x + y),
            (x, y) => x.or(y),
        }
    };
    for (a, b) in total.iter_mut().zip(more) {
        add(&mut a.output_rows, b.output_rows);
        add(&mut a.elapsed_compute_ns, b.elapsed_compute_ns);
        add(&mut a.spilled_bytes, b.spilled_bytes);
    }
}
