//! Writing a product: execute its plan (sorted when it declares an order), stream the rows
//! into a Parquet file with a unique name in the product's directory, and return what was
//! written. The caller commits it by replacing the manifest.

use crate::state::{FileEntry, sha256_file};
use datafusion::arrow::array::{Array as _, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{
    CastOptions, SortOptions, cast_with_options, concat_batches, filter_record_batch,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use futures::StreamExt;
use rulec_diagnostics::{Diagnostic, codes};
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per written batch of a sorted product: the writer sees the same batches whatever
/// the engine's partitioning, so sorted products are byte-identical run to run. (Products
/// without an order are written batch by batch as the engine yields them.)
pub const WRITE_BATCH_ROWS: usize = 8192;

fn write_error(name: &str, what: &str, err: impl std::fmt::Display) -> Diagnostic {
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

/// A declared sort key of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
}

impl SortKey {
    /// `column` or `column desc` / `column asc`.
    pub fn parse(text: &str) -> Option<SortKey> {
        let mut words = text.split_whitespace();
        let column = words.next()?.to_owned();
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return None,
        };
        words
            .next()
            .is_none()
            .then_some(SortKey { column, descending })
    }

    pub fn render(&self) -> String {
        if self.descending {
            format!("{} desc", self.column)
        } else {
            self.column.clone()
        }
    }
}

/// Whether rows can be ordered by a column of this type (and it is one Parquet leaf).
fn sortable(ty: &DataType) -> bool {
    !ty.is_nested() && !matches!(ty, DataType::Null | DataType::Dictionary(..))
}

/// Checks declared keys against the product's schema: top-level columns of a sortable type.
pub fn check_sort_keys(schema: &SchemaRef, keys: &[SortKey]) -> Result<(), String> {
    for key in keys {
        match schema.field_with_name(&key.column) {
            Ok(f) if sortable(f.data_type()) => {}
            Ok(f) => {
                return Err(format!(
                    "`{}` has type {}, which cannot order rows",
                    key.column,
                    rulec_contract::render_type(f.data_type())
                ));
            }
            Err(_) => return Err(format!("`{}` is not a column of the product", key.column)),
        }
    }
    Ok(())
}

/// The memory a row group may take in the writer before it is written out. The engine's
/// row-group size counts rows (about a million); a product of few rows holding long lists
/// would otherwise be held whole, encoded, until its end.
const ROW_GROUP_MEMORY: usize = 64 << 20;

/// Writes `batch`, and closes the row group once the writer holds [`ROW_GROUP_MEMORY`] of it.
/// (What the writer holds depends only on the rows written so far, so a sorted product's
/// row groups are the same run to run.)
fn write_rows(
    writer: &mut ArrowWriter<File>,
    batch: &RecordBatch,
) -> datafusion::parquet::errors::Result<()> {
    writer.write(batch)?;
    if writer.memory_size() >= ROW_GROUP_MEMORY {
        writer.flush()?;
    }
    Ok(())
}

/// What `write_product` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub rows: u64,
    pub data: FileEntry,
    pub plan: FileEntry,
    /// Rows refused by the output contract in tolerant mode, and the file that holds them.
    pub errors: Option<(FileEntry, u64)>,
    pub metrics: Vec<OperatorMetrics>,
}

/// Row checks of an output contract, applied to every row written.
#[derive(Debug, Clone, Default)]
pub struct OutputChecks {
    /// Columns declared `nullable: false`.
    pub not_null: Vec<String>,
    /// Columns whose values together must be unique.
    pub key: Vec<String>,
    /// Write refused rows to an error file instead of failing.
    pub tolerant: bool,
}

/// The state of the checks across batches.
struct Checker {
    checks: OutputChecks,
    not_null: Vec<usize>,
    key: Vec<usize>,
    converter: Option<RowConverter>,
    seen: HashSet<Vec<u8>>,
    /// Rows seen so far (row numbers in errors are 0-based positions in the output).
    offset: u64,
    /// Refused rows: (row key, code, message).
    refused: Vec<(String, &'static str, String)>,
}

impl Checker {
    fn new(checks: &OutputChecks, schema: &SchemaRef) -> Result<Self, String> {
        let index = |names: &[String]| -> Result<Vec<usize>, String> {
            names
                .iter()
                .map(|n| schema.index_of(n).map_err(|_| format!("no column `{n}`")))
                .collect()
        };
        let key = index(&checks.key)?;
        let converter = if key.is_empty() {
            None
        } else {
            Some(
                RowConverter::new(
                    key.iter()
                        .map(|&i| SortField::new(schema.field(i).data_type().clone()))
                        .collect(),
                )
                .map_err(|e| e.to_string())?,
            )
        };
        Ok(Checker {
            checks: checks.clone(),
            not_null: index(&checks.not_null)?,
            key,
            converter,
            seen: HashSet::new(),
            offset: 0,
            refused: Vec::new(),
        })
    }

    /// The row's key as text (its key columns, or its position when there is no key).
    fn row_key(&self, batch: &RecordBatch, row: usize) -> String {
        if self.key.is_empty() {
            return format!("row {}", self.offset + row as u64);
        }
        let options = FormatOptions::default().with_null("NULL");
        self.key
            .iter()
            .map(|&i| {
                ArrayFormatter::try_new(batch.column(i).as_ref(), &options)
                    .map(|f| format!("{}={}", batch.schema().field(i).name(), f.value(row)))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks one batch: the rows to keep, or the first violation as an error (strict).
    fn check(&mut self, batch: RecordBatch, name: &str) -> Result<RecordBatch, Diagnostic> {
        let rows = batch.num_rows();
        let mut refused: Vec<Option<(&'static str, String)>> = vec![None; rows];
        for &i in &self.not_null {
            // Logical nulls: also those of dictionary values and run-end encodings.
            let Some(nulls) = batch.column(i).logical_nulls() else {
                continue;
            };
            for (row, slot) in refused.iter_mut().enumerate() {
                if slot.is_none() && nulls.is_null(row) {
                    *slot = Some((
                        codes::OUTPUT_COLUMN_NULLABILITY.code,
                        format!(
                            "`{}` is null, but the output contract declares it `nullable: false`",
                            batch.schema().field(i).name()
                        ),
                    ));
                }
            }
        }
        if let Some(converter) = &self.converter {
            let columns: Vec<_> = self
                .key
                .iter()
                .map(|&i| Arc::clone(batch.column(i)))
                .collect();
            let converted = converter
                .convert_columns(&columns)
                .map_err(|e| write_error(name, "cannot check the key", e))?;
            // As in SQL's UNIQUE, a key with a null is distinct from every other.
            let key_nulls: Vec<_> = columns.iter().filter_map(|c| c.logical_nulls()).collect();
            for (row, slot) in refused.iter_mut().enumerate() {
                if key_nulls.iter().any(|n| n.is_null(row)) {
                    continue;
                }
                if slot.is_none() && !self.seen.insert(converted.row(row).as_ref().to_vec()) {
                    *slot = Some((
                        codes::OUTPUT_KEY_DUPLICATE.code,
                        "the key repeats an earlier row's; the output contract declares it unique"
                            .to_owned(),
                    ));
                }
            }
        }
        let keep: Vec<bool> = refused.iter().map(Option::is_none).collect();
        if let Some(row) = keep.iter().position(|k| !k) {
            if !self.checks.tolerant {
                let (code, message) = refused[row].clone().unwrap_or_default();
                let code = if code == codes::OUTPUT_KEY_DUPLICATE.code {
                    codes::OUTPUT_KEY_DUPLICATE
                } else {
                    codes::OUTPUT_COLUMN_NULLABILITY
                };
                return Err(Diagnostic::error(
                    code,
                    format!("product `{name}`, {}: {message}", self.row_key(&batch, row)),
                )
                .with_help("nothing was published; with `on_violation: tolerant` (pack.yaml `products:`) or `--tolerant`, refused rows go to the product's error file"));
            }
            for (row, slot) in refused.iter().enumerate() {
                if let Some((code, message)) = slot {
                    let key = self.row_key(&batch, row);
                    self.refused.push((key, code, message.clone()));
                }
            }
        }
        self.offset += rows as u64;
        if keep.iter().all(|k| *k) {
            return Ok(batch);
        }
        filter_record_batch(&batch, &BooleanArray::from(keep))
            .map_err(|e| write_error(name, "cannot filter refused rows", e))
    }
}

/// Casts a computed batch to the product's schema (the output contract's types; the
/// compiler allowed only safe casts) and checks nullability afterwards.
fn conform(batch: &RecordBatch, schema: &SchemaRef, name: &str) -> Result<RecordBatch, Diagnostic> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (column, field) in batch.columns().iter().zip(schema.fields()) {
        if column.data_type() == field.data_type() {
            columns.push(Arc::clone(column));
        } else {
            let options = CastOptions {
                safe: false,
                ..CastOptions::default()
            };
            columns.push(
                cast_with_options(column, field.data_type(), &options).map_err(|e| {
                    Diagnostic::error(
                        codes::OUTPUT_COLUMN_TYPE,
                        format!(
                            "product `{name}`: column `{}` cannot be cast to `{}`: {e}",
                            field.name(),
                            rulec_contract::render_type(field.data_type())
                        ),
                    )
                })?,
            );
        }
    }
    // Nullability is checked by the output checks, on these lenient fields.
    let lenient: SchemaRef = Arc::new(datafusion::arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(lenient, columns).map_err(|e| {
        Diagnostic::error(
            codes::EXECUTION_FAILED,
            format!(
                "product `{name}`: the computed rows do not fit the checked output schema: {e}"
            ),
        )
    })
}

/// Metrics of one operator of the executed plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OperatorMetrics {
    pub operator: String,
    pub depth: usize,
    pub output_rows: Option<usize>,
    pub elapsed_compute_ns: Option<usize>,
    pub spilled_bytes: Option<usize>,
}

#[allow(clippy::too_many_arguments)]
/// Executes `plans` one after the other (the slices of a product built in slices, else one
/// plan) and writes their rows into `dir` as `part-<nonce>.parquet`, with the
/// Substrait plan beside it as `plan-<nonce>.substrait`. With `order`, rows are sorted by
/// the keys, then by every other sortable column (so that ties are ordered too), and the
/// keys are recorded as Parquet `sorting_columns`. Nothing in `dir` is replaced.
pub async fn write_product(
    state: &SessionState,
    plans: Vec<LogicalPlan>,
    schema: SchemaRef,
    dir: &Path,
    name: &str,
    plan_bytes: &[u8],
    order: &[SortKey],
    checks: &OutputChecks,
    progress: Option<&crate::ProgressSink>,
) -> Result<Written, Diagnostic> {
    std::fs::create_dir_all(dir)
        .map_err(|e| write_error(name, &format!("cannot create `{}`", dir.display()), e))?;
    let nonce = format!(
        "{:x}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
        std::process::id()
    );
    let data_path = dir.join(format!("part-{nonce}.parquet"));
    let plan_path = dir.join(format!("plan-{nonce}.substrait"));
    let errors_path = dir.join(format!("errors-{nonce}.parquet"));
    let result = write_files(
        state,
        plans,
        schema,
        [&data_path, &plan_path, &errors_path],
        name,
        plan_bytes,
        order,
        checks,
        progress,
    )
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&data_path);
        let _ = std::fs::remove_file(&plan_path);
        let _ = std::fs::remove_file(&errors_path);
    }
    result
}

/// Executes `plans` in turn, checks their rows and hands them to `writer`: a sorted
/// product's rows re-cut into batches of [`WRITE_BATCH_ROWS`], others as they come. Returns
/// the rows written and the operators' metrics.
#[allow(clippy::too_many_arguments)]
async fn execute_into(
    state: &SessionState,
    plans: Vec<LogicalPlan>,
    schema: &SchemaRef,
    name: &str,
    order: &[SortKey],
    checker: &mut Checker,
    progress: Option<&crate::ProgressSink>,
    writer: &WriterThread,
) -> Result<(u64, Vec<OperatorMetrics>), Diagnostic> {
    let mut rows = 0u64;
    let mut rebatch = Rebatcher::default();
    let mut metrics_total: Vec<OperatorMetrics> = Vec::new();
    for plan in plans {
        let physical = state
            .create_physical_plan(&plan)
            .await
            .map_err(|e| exec_error(name, &e))?;
        let physical = if order.is_empty() {
            physical
        } else {
            sorted(physical, schema, order).map_err(|e| exec_error(name, &e))?
        };
        let mut stream =
            datafusion::physical_plan::execute_stream(Arc::clone(&physical), state.task_ctx())
                .map_err(|e| exec_error(name, &e))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| exec_error(name, &e))?;
            let batch = conform(&batch, schema, name)?;
            let batch = checker.check(batch, name)?;
            let batch = RecordBatch::try_new(Arc::clone(schema), batch.columns().to_vec())
                .map_err(|e| write_error(name, "rows do not fit the product's schema", e))?;
            rows += batch.num_rows() as u64;
            if let Some(sink) = progress {
                (sink.0)(crate::ProgressEvent::Rows {
                    product: name,
                    rows,
                });
            }
            if order.is_empty() {
                // No declared order, so no byte-identity to keep: the batch goes straight to
                // the writer, and a product of few large rows is never held whole.
                writer.write(batch, name).await?;
                continue;
            }
            for full in rebatch
                .push(batch)
                .map_err(|e| write_error(name, "cannot buffer rows", e))?
            {
                writer.write(full, name).await?;
            }
        }
        add_metrics(&mut metrics_total, metrics(&physical));
    }
    if let Some(rest) = rebatch
        .finish()
        .map_err(|e| write_error(name, "cannot buffer rows", e))?
    {
        writer.write(rest, name).await?;
    }
    Ok((rows, metrics_total))
}

/// A sorted product's rows, re-cut into batches of exactly [`WRITE_BATCH_ROWS`] (the last
/// one shorter), so that the writer sees the same batches whatever the engine's
/// partitioning.
#[derive(Default)]
struct Rebatcher {
    pending: Vec<RecordBatch>,
    rows: usize,
}

impl Rebatcher {
    /// Takes `batch`; returns the full batches that are ready.
    fn push(
        &mut self,
        batch: RecordBatch,
    ) -> Result<Vec<RecordBatch>, datafusion::arrow::error::ArrowError> {
        self.rows += batch.num_rows();
        self.pending.push(batch);
        if self.rows < WRITE_BATCH_ROWS {
            return Ok(Vec::new());
        }
        let merged = concat_batches(&self.pending[0].schema(), self.pending.iter())?;
        self.pending.clear();
        let mut full = Vec::new();
        let mut offset = 0;
        while merged.num_rows() - offset >= WRITE_BATCH_ROWS {
            full.push(merged.slice(offset, WRITE_BATCH_ROWS));
            offset += WRITE_BATCH_ROWS;
        }
        self.rows = merged.num_rows() - offset;
        if self.rows > 0 {
            self.pending.push(merged.slice(offset, self.rows));
        }
        Ok(full)
    }

    /// The rows left, as one batch shorter than [`WRITE_BATCH_ROWS`].
    fn finish(self) -> Result<Option<RecordBatch>, datafusion::arrow::error::ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        concat_batches(&self.pending[0].schema(), self.pending.iter()).map(Some)
    }
}

/// Batches queued for the writer: encoding and compressing one overlaps executing the next.
const WRITER_QUEUE: usize = 1;

/// The Parquet writer on a blocking thread of its own, fed through a bounded queue, so that
/// encoding runs beside the engine instead of between its batches.
struct WriterThread {
    sender: tokio::sync::mpsc::Sender<RecordBatch>,
    handle: tokio::task::JoinHandle<datafusion::parquet::errors::Result<File>>,
}

impl WriterThread {
    fn start(mut writer: ArrowWriter<File>) -> Self {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<RecordBatch>(WRITER_QUEUE);
        let handle = tokio::task::spawn_blocking(move || {
            while let Some(batch) = receiver.blocking_recv() {
                write_rows(&mut writer, &batch)?;
            }
            writer.into_inner()
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

    /// Ends the queue, waits for the queued batches to be written, then closes the file.
    async fn finish(self) -> datafusion::parquet::errors::Result<File> {
        let WriterThread { sender, handle } = self;
        drop(sender);
        handle.await.map_err(|e| {
            datafusion::parquet::errors::ParquetError::General(format!("the writer failed: {e}"))
        })?
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_files(
    state: &SessionState,
    plans: Vec<LogicalPlan>,
    schema: SchemaRef,
    [data_path, plan_path, errors_path]: [&PathBuf; 3],
    name: &str,
    plan_bytes: &[u8],
    order: &[SortKey],
    checks: &OutputChecks,
    progress: Option<&crate::ProgressSink>,
) -> Result<Written, Diagnostic> {
    let mut checker =
        Checker::new(checks, &schema).map_err(|e| write_error(name, "output checks", e))?;
    {
        let mut file =
            File::create(plan_path).map_err(|e| write_error(name, "cannot write plan", e))?;
        std::io::Write::write_all(&mut file, plan_bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| write_error(name, "cannot write plan", e))?;
    }
    let file =
        File::create(data_path).map_err(|e| write_error(name, "cannot create data file", e))?;
    let mut properties =
        WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default()));
    if !order.is_empty() {
        properties = properties.set_sorting_columns(Some(sorting_columns(&schema, order)));
    }
    let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(properties.build()))
        .map_err(|e| write_error(name, "cannot start Parquet writer", e))?;
    let writer = WriterThread::start(writer);
    let executed = execute_into(
        state,
        plans,
        &schema,
        name,
        order,
        &mut checker,
        progress,
        &writer,
    )
    .await;
    // The writer is finished (and its file closed) whatever happened, before any error is
    // returned and the file removed.
    let finished = writer.finish().await;
    let (rows, metrics_total, file) = match (executed, finished) {
        (Ok((rows, metrics)), Ok(file)) => (rows, metrics, file),
        // The writer fails only on its own errors (a stop of the execution ends its queue
        // cleanly), and its error explains why writing could not go on.
        (_, Err(e)) => return Err(write_error(name, "cannot write rows", e)),
        (Err(d), Ok(_)) => return Err(d),
    };
    file.sync_all()
        .map_err(|e| write_error(name, "cannot sync data file", e))?;
    let entry = |path: &PathBuf| -> Result<FileEntry, Diagnostic> {
        Ok(FileEntry {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes: std::fs::metadata(path)
                .map_err(|e| write_error(name, "cannot read back", e))?
                .len(),
            sha256: sha256_file(path).map_err(|e| write_error(name, "cannot read back", e))?,
        })
    };
    let errors = if checker.refused.is_empty() {
        None
    } else {
        write_refused(errors_path, &checker.refused, name)?;
        Some((entry(errors_path)?, checker.refused.len() as u64))
    };
    Ok(Written {
        rows,
        data: entry(data_path)?,
        plan: entry(plan_path)?,
        errors,
        metrics: metrics_total,
    })
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

/// `plan` sorted by the declared keys, then by every other sortable column: each partition
/// sorted, then merged. The sort is added to the physical plan, after DataFusion's optimizer,
/// so that no optimizer rule moves it: DataFusion 55.2's sort pushdown can produce plans
/// that its own sanity check refuses (a sort over a projection of a UNION that builds a
/// struct from a sort key). A plan whose rows already come in this order is not re-sorted.
fn sorted(
    plan: Arc<dyn ExecutionPlan>,
    schema: &SchemaRef,
    order: &[SortKey],
) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    let plan_schema = plan.schema();
    let key = |name: &str, descending: bool| -> datafusion::error::Result<PhysicalSortExpr> {
        // The plan's columns are the product's, by position (see `conform`).
        let index = schema.index_of(name)?;
        let column = PhysicalColumn::new(plan_schema.field(index).name(), index);
        Ok(PhysicalSortExpr::new(
            Arc::new(column),
            SortOptions {
                descending,
                nulls_first: descending,
            },
        ))
    };
    let mut keys = Vec::new();
    for k in order {
        keys.push(key(&k.column, k.descending)?);
    }
    for field in schema.fields() {
        if sortable(field.data_type()) && !order.iter().any(|k| &k.column == field.name()) {
            keys.push(key(field.name(), false)?);
        }
    }
    let Some(ordering) = LexOrdering::new(keys) else {
        return Ok(plan);
    };
    let partitions = plan.properties().output_partitioning().partition_count();
    let plan = if plan
        .properties()
        .equivalence_properties()
        .ordering_satisfy(ordering.clone())?
    {
        plan
    } else {
        Arc::new(SortExec::new(ordering.clone(), plan).with_preserve_partitioning(partitions > 1))
    };
    Ok(if partitions > 1 {
        Arc::new(SortPreservingMergeExec::new(ordering, plan))
    } else {
        plan
    })
}

/// Parquet `sorting_columns` for the declared keys (leaf indices: nested columns before a
/// key count each of their leaves).
fn sorting_columns(schema: &SchemaRef, order: &[SortKey]) -> Vec<SortingColumn> {
    fn leaves(ty: &DataType) -> usize {
        match ty {
            DataType::Struct(fields) => fields.iter().map(|f| leaves(f.data_type())).sum(),
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                leaves(f.data_type())
            }
            DataType::Map(f, _) => leaves(f.data_type()),
            _ => 1,
        }
    }
    order
        .iter()
        .filter_map(|key| {
            let index = schema.index_of(&key.column).ok()?;
            let leaf: usize = schema.fields()[..index]
                .iter()
                .map(|f| leaves(f.data_type()))
                .sum();
            Some(SortingColumn {
                column_idx: i32::try_from(leaf).ok()?,
                descending: key.descending,
                nulls_first: key.descending,
            })
        })
        .collect()
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
