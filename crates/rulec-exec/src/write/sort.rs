//! Sorted products: the sort added to the physical plan, the rows re-cut into batches of a
//! fixed size, and the keys as Parquet `sorting_columns`.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{SortOptions, concat_batches};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use rulec_pack::SortKey;
use std::sync::Arc;

/// Rows per written batch of a sorted product: the writer sees the same batches whatever
/// the engine's partitioning, so sorted products are byte-identical run to run. (Products
/// without an order are written batch by batch as the engine yields them.)
pub const WRITE_BATCH_ROWS: usize = 8192;

/// `plan` sorted by the declared keys, then by every other column that can order rows
/// ([`breaks_ties`]): each partition
/// sorted, then merged. The sort is added to the physical plan, after DataFusion's optimizer,
/// so that no optimizer rule moves it: DataFusion 55.2's sort pushdown can produce plans
/// that its own sanity check refuses (a sort over a projection of a UNION that builds a
/// struct from a sort key). A plan whose rows already come in this order is not re-sorted.
pub(super) fn sorted(
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
        if breaks_ties(field.data_type()) && !order.iter().any(|k| &k.column == field.name()) {
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

/// Whether a column of this type orders rows whose sort keys tie: every type the engine's
/// row format compares, nested ones too (structs, lists, maps: element by element, a map's
/// entries in their order), but not a column of NULLs only.
fn breaks_ties(ty: &DataType) -> bool {
    !matches!(ty, DataType::Null) && RowConverter::supports_fields(&[SortField::new(ty.clone())])
}

/// Parquet `sorting_columns` for the declared keys (leaf indices: nested columns before a
/// key count each of their leaves).
pub(super) fn sorting_columns(schema: &SchemaRef, order: &[SortKey]) -> Vec<SortingColumn> {
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

/// A sorted product's rows, re-cut into batches of exactly [`WRITE_BATCH_ROWS`] (the last
/// one shorter), so that the writer sees the same batches whatever the engine's
/// partitioning.
#[derive(Default)]
pub(super) struct Rebatcher {
    pending: Vec<RecordBatch>,
    rows: usize,
}

impl Rebatcher {
    /// Takes `batch`; returns the full batches that are ready.
    pub(super) fn push(
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
    pub(super) fn finish(
        self,
    ) -> Result<Option<RecordBatch>, datafusion::arrow::error::ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        concat_batches(&self.pending[0].schema(), self.pending.iter()).map(Some)
    }
}
