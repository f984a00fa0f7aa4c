//! The output contract's row checks, applied to every row written: `nullable: false`
//! columns, the key's uniqueness; and the cast of computed rows to the product's schema.

use super::write_error;
use datafusion::arrow::array::{Array as _, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{CastOptions, cast_with_options, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use rulec_diagnostics::{Diagnostic, codes};
use std::collections::HashSet;
use std::sync::Arc;

/// Row checks of an output contract, applied to every row written.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct OutputChecks {
    /// Columns declared `nullable: false`.
    pub not_null: Vec<String>,
    /// Columns whose values together must be unique.
    pub key: Vec<String>,
    /// Write refused rows to an error file instead of failing.
    pub tolerant: bool,
}

/// The state of the checks across batches.
pub(super) struct Checker {
    checks: OutputChecks,
    not_null: Vec<usize>,
    key: Vec<usize>,
    converter: Option<RowConverter>,
    seen: HashSet<Vec<u8>>,
    /// Rows seen so far (row numbers in errors are 0-based positions in the output).
    offset: u64,
    /// Refused rows: (row key, code, message).
    pub(super) refused: Vec<(String, &'static str, String)>,
}

impl Checker {
    pub(super) fn new(checks: &OutputChecks, schema: &SchemaRef) -> Result<Self, String> {
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
    pub(super) fn check(
        &mut self,
        batch: RecordBatch,
        name: &str,
    ) -> Result<RecordBatch, Diagnostic> {
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
pub(super) fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
    name: &str,
) -> Result<RecordBatch, Diagnostic> {
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
