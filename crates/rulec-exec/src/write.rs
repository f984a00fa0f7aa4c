//! Writing a product: stream the plan's batches into one Parquet file in a temporary
//! directory, then move the directory into place.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use futures::StreamExt;
use rulec_diagnostics::{Diagnostic, codes};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The one data file of a product.
pub const DATA_FILE: &str = "part-00000.parquet";
/// The Substrait plan the product was computed from.
pub const PLAN_FILE: &str = "plan.substrait";

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

/// Executes `plan` and writes its rows as `<out>/<name>/part-00000.parquet` with `schema`
/// (the compiled output schema), next to the Substrait plan bytes. Returns (rows, files).
pub async fn write_product(
    state: &SessionState,
    plan: LogicalPlan,
    schema: SchemaRef,
    out_dir: &Path,
    name: &str,
    plan_bytes: &[u8],
) -> Result<(u64, usize), Diagnostic> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| write_error(name, &format!("cannot create `{}`", out_dir.display()), e))?;
    let staging = out_dir.join(format!(".{name}.staging-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .map_err(|e| write_error(name, "cannot clear staging", e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| write_error(name, "cannot create staging", e))?;
    let result = write_into(state, plan, schema, &staging, name, plan_bytes).await;
    match result {
        Ok(rows) => {
            publish(&staging, &out_dir.join(name))
                .map_err(|e| write_error(name, "cannot publish", e))?;
            Ok((rows, 1))
        }
        Err(d) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(d)
        }
    }
}

async fn write_into(
    state: &SessionState,
    plan: LogicalPlan,
    schema: SchemaRef,
    dir: &Path,
    name: &str,
    plan_bytes: &[u8],
) -> Result<u64, Diagnostic> {
    std::fs::write(dir.join(PLAN_FILE), plan_bytes)
        .map_err(|e| write_error(name, "cannot write plan", e))?;
    let physical = state
        .create_physical_plan(&plan)
        .await
        .map_err(|e| exec_error(name, &e))?;
    let task = state.task_ctx();
    let mut stream = datafusion::physical_plan::execute_stream(physical, task)
        .map_err(|e| exec_error(name, &e))?;
    let file = File::create(dir.join(DATA_FILE))
        .map_err(|e| write_error(name, "cannot create data file", e))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer = ArrowWriter::try_new(file, std::sync::Arc::clone(&schema), Some(properties))
        .map_err(|e| write_error(name, "cannot start Parquet writer", e))?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| exec_error(name, &e))?;
        let batch = RecordBatch::try_new(std::sync::Arc::clone(&schema), batch.columns().to_vec()).map_err(|e| {
            Diagnostic::error(
                codes::EXECUTION_FAILED,
                format!("product `{name}`: the computed rows do not fit the checked output schema: {e}"),
            )
        })?;
        rows += batch.num_rows() as u64;
        writer
            .write(&batch)
            .map_err(|e| write_error(name, "cannot write rows", e))?;
    }
    let file = writer
        .into_inner()
        .map_err(|e| write_error(name, "cannot finish Parquet file", e))?;
    file.sync_all()
        .map_err(|e| write_error(name, "cannot sync data file", e))?;
    Ok(rows)
}

/// Moves `staging` to `target`, replacing what was there. The old product is moved aside
/// first and removed only once the new one is in place.
pub(crate) fn publish(staging: &Path, target: &Path) -> std::io::Result<()> {
    let retired: Option<PathBuf> = if target.exists() {
        let aside = target.with_file_name(format!(
            ".{}.retired-{}",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        if aside.exists() {
            std::fs::remove_dir_all(&aside)?;
        }
        std::fs::rename(target, &aside)?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(staging, target) {
        if let Some(aside) = &retired {
            let _ = std::fs::rename(aside, target);
        }
        return Err(e);
    }
    if let Some(aside) = retired {
        std::fs::remove_dir_all(aside)?;
    }
    Ok(())
}
