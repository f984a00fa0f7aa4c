//! The rulec Unnest extension's payload.

use datafusion::common::{Column, DFSchema, NullHandling, RecursionUnnestOption, UnnestOptions};
use datafusion::logical_expr::{LogicalPlan, Unnest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The type URL of the extension's `detail`.
pub const UNNEST_TYPE_URL: &str = "rulec.dev/extension/Unnest";
/// The payload version this build writes and reads.
pub const UNNEST_PAYLOAD_VERSION: u32 = 1;

/// What an Unnest needs beyond its input: which input columns (by position) to unnest, how
/// deep, and how nulls and empty lists behave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnnestPayload {
    pub version: u32,
    /// Positions (in the input's schema) of the columns to unnest.
    pub columns: Vec<usize>,
    /// Explicit recursion depths, by input position.
    pub recursions: Vec<UnnestRecursion>,
    /// `drop`, `preserve` or `preserve_and_expand_empty`.
    pub null_handling: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnnestRecursion {
    pub column: usize,
    /// The output column's name (internal to the plan: parents refer to it by position).
    pub output: String,
    pub depth: usize,
}

impl UnnestPayload {
    /// Describes `unnest` by positions in its input.
    pub fn from_unnest(unnest: &Unnest) -> Result<Self, String> {
        let input_schema = unnest.input.schema();
        let position = |c: &Column| {
            input_schema
                .index_of_column(c)
                .map_err(|e| format!("unnest column {c} is not in its input: {e}"))
        };
        let columns = unnest
            .exec_columns
            .iter()
            .map(position)
            .collect::<Result<Vec<_>, _>>()?;
        let recursions = unnest
            .options
            .recursions
            .iter()
            .map(|r| {
                Ok(UnnestRecursion {
                    column: position(&r.input_column)?,
                    output: r.output_column.name.clone(),
                    depth: r.depth,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(UnnestPayload {
            version: UNNEST_PAYLOAD_VERSION,
            columns,
            recursions,
            null_handling: match unnest.options.null_handling {
                NullHandling::Drop => "drop",
                NullHandling::Preserve => "preserve",
                NullHandling::PreserveAndExpandEmpty => "preserve_and_expand_empty",
            }
            .to_owned(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the payload serializes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let payload: UnnestPayload =
            serde_json::from_slice(bytes).map_err(|e| format!("bad rulec Unnest payload: {e}"))?;
        if payload.version != UNNEST_PAYLOAD_VERSION {
            return Err(format!(
                "rulec Unnest payload version {} is not supported (this rulec reads version {UNNEST_PAYLOAD_VERSION})",
                payload.version
            ));
        }
        Ok(payload)
    }

    /// Rebuilds the Unnest over `input` (whose column names may differ from the original's).
    pub fn to_plan(&self, input: LogicalPlan) -> Result<LogicalPlan, String> {
        let schema: &DFSchema = input.schema();
        let column_at = |i: usize| {
            if i < schema.fields().len() {
                Ok(Column::from(schema.qualified_field(i)))
            } else {
                Err(format!(
                    "unnest column position {i} is outside its input's {} columns",
                    schema.fields().len()
                ))
            }
        };
        let exec_columns = self
            .columns
            .iter()
            .map(|i| column_at(*i))
            .collect::<Result<Vec<_>, _>>()?;
        let recursions = self
            .recursions
            .iter()
            .map(|r| {
                Ok(RecursionUnnestOption {
                    input_column: column_at(r.column)?,
                    output_column: Column::from_name(&r.output),
                    depth: r.depth,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let null_handling = match self.null_handling.as_str() {
            "drop" => NullHandling::Drop,
            "preserve" => NullHandling::Preserve,
            "preserve_and_expand_empty" => NullHandling::PreserveAndExpandEmpty,
            other => return Err(format!("unknown unnest null handling `{other}`")),
        };
        let options = UnnestOptions {
            null_handling,
            recursions,
        };
        Unnest::try_new(Arc::new(input), exec_columns, options)
            .map(LogicalPlan::Unnest)
            .map_err(|e| e.to_string())
    }
}
