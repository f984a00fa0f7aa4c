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
    let config = ListingTableConfig::new(table_url(path)?)
        .with_listing_options(listing_options(state))
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
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
    let url = match table_url(path) {
        Ok(u) => u,
        Err(e) => return InputCheck::Failed(vec![read_error(table, path, &e)]),
    };
    let file_schema = match listing_options(state).infer_schema(state, &url).await {
        Ok(s) => s,
        Err(e) => return InputCheck::Failed(vec![read_error(table, path, &e)]),
    };
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
    if !problems.is_empty() {
        return InputCheck::Failed(problems);
    }
    match listing_table(state, path, Arc::clone(&contract.schema)) {
        Ok(t) => InputCheck::Ok(t),
        Err(e) => InputCheck::Failed(vec![read_error(table, path, &e)]),
    }
}

fn read_error(table: &str, path: &Path, err: &datafusion::error::DataFusionError) -> Diagnostic {
    Diagnostic::error(
        codes::INPUT_SCHEMA_MISMATCH,
        format!(
            "input `{table}`: cannot read `{}` as Parquet: {}",
            path.display(),
            rulec_compile::clean_message(err)
        ),
    )
    .in_file("pack.yaml")
}
