//! Inputs: found, checked against their contracts, and registered with the contract's
//! schema so that the engine reads exactly the declared types.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SessionState;
use rulec_contract::{Contract, render_type};
use rulec_diagnostics::{Diagnostic, codes};
use std::path::Path;
use std::sync::Arc;

pub enum InputCheck {
    Ok(Arc<dyn TableProvider>),
    Failed(Vec<Diagnostic>),
}

fn listing_options(state: &SessionState) -> ListingOptions {
    let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
    ListingOptions::new(Arc::new(format)).with_file_extension(".parquet")
}

fn table_url(path: &Path) -> datafusion::error::Result<ListingTableUrl> {
    let absolute = std::path::absolute(path)?;
    // A `file://` URL, every byte outside the unreserved set percent-encoded: a plain path
    // with `[`, `*` or `?` in it would be read as a glob pattern.
    let mut text = String::from("file://");
    for byte in absolute.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            text.push(char::from(byte));
        } else {
            text.push_str(&format!("%{byte:02X}"));
        }
    }
    if absolute.is_dir() && !text.ends_with('/') {
        text.push('/');
    }
    ListingTableUrl::parse(text)
}

/// A Parquet listing table over `path` (a file or a directory) with a fixed schema.
pub fn listing_table(
    state: &SessionState,
    path: &Path,
    schema: SchemaRef,
) -> datafusion::error::Result<Arc<dyn TableProvider>> {
    // A directory is read as exactly the files its identity is made of (`.` and `_` names
    // are not data, at any depth), listed here rather than by the engine's own listing.
    let files = if path.is_dir() {
        crate::identity::data_files(path)?
    } else {
        Vec::new()
    };
    let config = if files.is_empty() {
        ListingTableConfig::new(table_url(path)?)
    } else {
        ListingTableConfig::new_with_multi_paths(
            files
                .iter()
                .map(|f| table_url(f))
                .collect::<datafusion::error::Result<Vec<_>>>()?,
        )
    }
    .with_listing_options(listing_options(state))
    .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// A product's files as a table with the product's schema. Unpartitioned: exactly the files
/// its manifest names. Partitioned: its directory as a Hive-partitioned listing (the
/// partition values parsed from the `col=value/` paths; `_rulec/` is below no partition, so
/// not read), its columns put back in the product's order.
pub fn product_table(
    state: &SessionState,
    dir: &Path,
    files: &[std::path::PathBuf],
    partition_by: &[String],
    schema: SchemaRef,
) -> datafusion::error::Result<Arc<dyn TableProvider>> {
    if partition_by.is_empty() {
        let config = ListingTableConfig::new_with_multi_paths(
            files
                .iter()
                .map(|f| table_url(f))
                .collect::<datafusion::error::Result<Vec<_>>>()?,
        )
        .with_listing_options(listing_options(state))
        .with_schema(schema);
        return Ok(Arc::new(ListingTable::try_new(config)?));
    }
    let partition_cols = partition_by
        .iter()
        .map(|c| Ok((c.clone(), schema.field_with_name(c)?.data_type().clone())))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let data_columns: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !partition_by.contains(f.name()))
        .map(|(i, _)| i)
        .collect();
    let file_schema = Arc::new(schema.project(&data_columns)?);
    let config = ListingTableConfig::new(table_url(dir)?)
        .with_listing_options(listing_options(state).with_table_partition_cols(partition_cols))
        .with_schema(file_schema);
    let listing: Arc<dyn TableProvider> = Arc::new(ListingTable::try_new(config)?);
    let columns: Vec<datafusion::prelude::Expr> = schema
        .fields()
        .iter()
        .map(|f| datafusion::prelude::col(datafusion::common::Column::new_unqualified(f.name())))
        .collect();
    let plan = datafusion::logical_expr::LogicalPlanBuilder::scan(
        "product",
        datafusion::datasource::provider_as_source(listing),
        None,
    )?
    .project(columns)?
    .build()?;
    Ok(Arc::new(crate::view::EphemeralTable::new(plan)))
}

/// Checks that `path` exists and its Parquet schema has every contract column with the
/// declared type, then returns a table that reads it with the contract's schema.
pub async fn check_input(
    state: &SessionState,
    table: &str,
    path: &Path,
    contract: &Contract,
) -> InputCheck {
    if !path.exists() {
        return InputCheck::Failed(vec![
            Diagnostic::error(
                codes::INPUT_MISSING,
                format!("input `{table}`: `{}` does not exist", path.display()),
            )
            .in_file("pack.yaml")
            .with_help("fix the path under `inputs:` in pack.yaml, or pass --data DIR"),
        ]);
    }
    // Each file on its own, so that a diagnostic names the file (a directory's files are
    // otherwise merged into one schema, and an empty file reads as one without columns).
    let files = match parquet_files(path) {
        Ok(files) => files,
        Err(e) => {
            return InputCheck::Failed(vec![unreadable(table, path, &e.to_string())]);
        }
    };
    if files.is_empty() {
        return InputCheck::Failed(vec![unreadable(table, path, "it holds no .parquet file")]);
    }
    let mut problems = Vec::new();
    for file in &files {
        if std::fs::metadata(file).is_ok_and(|m| m.len() == 0) {
            problems.push(unreadable(table, file, "the file is empty (0 bytes)"));
            continue;
        }
        let file_schema = match table_url(file) {
            Ok(url) => listing_options(state).infer_schema(state, &url).await,
            Err(e) => Err(e),
        };
        match file_schema {
            Ok(schema) => problems.extend(compare(table, file, &schema, contract)),
            Err(e) => problems.push(read_error(table, file, &e)),
        }
    }
    if !problems.is_empty() {
        return InputCheck::Failed(problems);
    }
    match listing_table(state, path, Arc::clone(&contract.schema)) {
        Ok(t) => InputCheck::Ok(t),
        Err(e) => InputCheck::Failed(vec![read_error(table, path, &e)]),
    }
}

/// The Parquet files an input path names: the file itself, or every `.parquet` file under
/// the directory (as the engine lists them), sorted.
fn parquet_files(path: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    crate::identity::data_files(path)
}

/// The contract columns `file_schema` lacks or types differently.
fn compare(
    table: &str,
    path: &Path,
    file_schema: &datafusion::arrow::datatypes::Schema,
    contract: &Contract,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for column in &contract.columns {
        match file_schema.field_with_name(&column.name) {
            Err(_) => problems.push(
                Diagnostic::error(
                    codes::INPUT_SCHEMA_MISMATCH,
                    format!(
                        "input `{table}` (`{}`) has no column `{}` (the contract declares `{}`)",
                        path.display(),
                        column.name,
                        column.type_text
                    ),
                )
                .in_file(contract.file.clone())
                .at_opt(column.span),
            ),
            Ok(field) => {
                let expected = render_type(&column.data_type);
                let actual = render_type(field.data_type());
                if expected != actual {
                    problems.push(
                        Diagnostic::error(
                            codes::INPUT_SCHEMA_MISMATCH,
                            format!(
                                "input `{table}` (`{}`): column `{}` is `{actual}` but the contract declares `{expected}`",
                                path.display(),
                                column.name
                            ),
                        )
                        .in_file(contract.file.clone())
                        .at_opt(column.span),
                    );
                }
                // Nullability is not compared: Parquet writers often mark every column
                // nullable, and the contract's promise is about the data.
            }
        }
    }
    problems
}

fn unreadable(table: &str, path: &Path, why: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INPUT_UNREADABLE,
        format!("input `{table}`: cannot read `{}`: {why}", path.display()),
    )
    .in_file("pack.yaml")
}

fn read_error(table: &str, path: &Path, err: &datafusion::error::DataFusionError) -> Diagnostic {
    Diagnostic::error(
        codes::INPUT_UNREADABLE,
        format!(
            "input `{table}`: cannot read `{}` as Parquet: {}",
            path.display(),
            rulec_compile::clean_message(err)
        ),
    )
    .in_file("pack.yaml")
}
