//! Inputs: found, checked against their contracts, and registered with the contract's
//! schema so that the engine reads exactly the declared types.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SessionState;
use rulec_contract::{Contract, ContractColumn, render_type};
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::SortKey;
use std::path::Path;
use std::sync::Arc;

pub enum InputCheck {
    /// The table, and warnings (an order the files do not record).
    Ok(Arc<dyn TableProvider>, Vec<Diagnostic>),
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
    sorted_by: Option<&[SortKey]>,
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
    .with_listing_options(match sorted_by {
        // Each file is sorted so (its `sorting_columns` say so): the engine may skip sorts.
        Some(keys) => listing_options(state).with_file_sort_order(vec![
            keys.iter()
                .map(|k| {
                    datafusion::prelude::col(datafusion::common::Column::new_unqualified(&k.column))
                        .sort(!k.descending, k.descending)
                })
                .collect(),
        ]),
        None => listing_options(state),
    })
    .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// Exactly `files` as a table with `schema`.
pub fn files_table(
    state: &SessionState,
    files: &[std::path::PathBuf],
    schema: SchemaRef,
) -> datafusion::error::Result<Arc<dyn TableProvider>> {
    let config = ListingTableConfig::new_with_multi_paths(
        files
            .iter()
            .map(|f| table_url(f))
            .collect::<datafusion::error::Result<Vec<_>>>()?,
    )
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
        return files_table(state, files, schema);
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
    let partitions: Vec<&ContractColumn> =
        contract.columns.iter().filter(|c| c.partition).collect();
    let mut problems = Vec::new();
    if !partitions.is_empty() {
        problems.extend(hive_layout(table, path, &files, &partitions, contract));
    }
    let order = contract_order(contract);
    let mut unordered: Option<String> = None;
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
        if !order.is_empty() && unordered.is_none() && !records_order(file, &order) {
            unordered = Some(file.display().to_string());
        }
    }
    if !problems.is_empty() {
        return InputCheck::Failed(problems);
    }
    let mut notes = Vec::new();
    let sorted = match unordered {
        _ if order.is_empty() => false,
        None => true,
        Some(file) => {
            let keys: Vec<String> = order.iter().map(SortKey::render).collect();
            notes.push(
                Diagnostic::warning(
                    codes::INPUT_ORDER_UNRECORDED,
                    format!(
                        "input `{table}`: the contract declares `order_by: [{}]`, but `{file}` does not record that order (Parquet sorting_columns); the input is read as unordered",
                        keys.join(", ")
                    ),
                )
                .in_file(contract.file.clone())
                .at_opt(contract.table_span),
            );
            false
        }
    };
    let partition_names: Vec<String> = partitions.iter().map(|c| c.name.clone()).collect();
    let provider = if partitions.is_empty() {
        listing_table(
            state,
            path,
            Arc::clone(&contract.schema),
            sorted.then_some(&order[..]),
        )
    } else {
        product_table(
            state,
            path,
            &[],
            &partition_names,
            Arc::clone(&contract.schema),
        )
    };
    match provider {
        Ok(t) => InputCheck::Ok(t, notes),
        Err(e) => InputCheck::Failed(vec![read_error(table, path, &e)]),
    }
}

/// A contract's `order_by` as sort keys (invalid entries are left out: the contract was
/// checked when the pack loaded).
fn contract_order(contract: &Contract) -> Vec<SortKey> {
    contract
        .order_by
        .iter()
        .filter_map(|t| SortKey::parse(t))
        .collect()
}

/// Whether every row group of a Parquet file records `order` as its leading
/// `sorting_columns` (top-level columns, by leaf index).
fn records_order(file: &Path, order: &[SortKey]) -> bool {
    let Ok(handle) = std::fs::File::open(file) else {
        return false;
    };
    let Ok(metadata) =
        datafusion::parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(&handle)
    else {
        return false;
    };
    let columns = metadata.file_metadata().schema_descr();
    let row_groups = metadata.row_groups();
    !row_groups.is_empty()
        && row_groups.iter().all(|group| {
            let Some(sorting) = group.sorting_columns() else {
                return false;
            };
            sorting.len() >= order.len()
                && order.iter().zip(sorting).all(|(key, column)| {
                    usize::try_from(column.column_idx)
                        .ok()
                        .filter(|&i| i < columns.num_columns())
                        .is_some_and(|i| columns.column(i).path().string() == key.column)
                        && column.descending == key.descending
                        // The order a sort by the key gives: NULLs last ascending, first
                        // descending.
                        && column.nulls_first == key.descending
                })
        })
}

/// Checks a partitioned input's directory: every data file under `col=value/` directories,
/// one per partition column in the contract's order, each value of the column's type.
fn hive_layout(
    table: &str,
    path: &Path,
    files: &[std::path::PathBuf],
    partitions: &[&ContractColumn],
    contract: &Contract,
) -> Vec<Diagnostic> {
    let expected: Vec<String> = partitions.iter().map(|c| format!("{}=…", c.name)).collect();
    let problem = |message: String| {
        Diagnostic::error(codes::INPUT_LAYOUT, message)
            .in_file(contract.file.clone())
            .at_opt(partitions.first().and_then(|c| c.span))
    };
    if !path.is_dir() {
        return vec![problem(format!(
            "input `{table}` has partition columns, so `{}` must be a directory of `{}/` directories",
            path.display(),
            expected.join("/")
        ))];
    }
    let mut problems = Vec::new();
    let mut checked = std::collections::BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(path).unwrap_or(file);
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let layout_ok = parts.len() == partitions.len() + 1
            && partitions.iter().zip(&parts).all(|(column, part)| {
                part.split_once('=')
                    .is_some_and(|(name, _)| name == column.name)
            });
        if !layout_ok {
            problems.push(problem(format!(
                "input `{table}`: `{}` is not in a `{}/` directory",
                relative.display(),
                expected.join("/")
            )));
            continue;
        }
        for (column, part) in partitions.iter().zip(&parts) {
            if !checked.insert(part.clone()) {
                continue;
            }
            let value = percent_decode(part.split_once('=').map_or("", |(_, v)| v));
            let parsed =
                datafusion::common::ScalarValue::try_from_string(value.clone(), &column.data_type);
            if parsed.is_err() {
                problems.push(problem(format!(
                    "input `{table}`: directory `{part}` names `{value}`, which is not a `{}` (partition column `{}`)",
                    column.type_text, column.name
                )));
            }
        }
    }
    problems
}

/// `%XX` escapes decoded (as Hive readers decode directory names).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
        if column.partition {
            if file_schema.field_with_name(&column.name).is_ok() {
                problems.push(
                    Diagnostic::error(
                        codes::INPUT_LAYOUT,
                        format!(
                            "input `{table}` (`{}`) holds column `{}`, which the contract declares a partition column (read from the `{}=…/` directory names)",
                            path.display(),
                            column.name,
                            column.name
                        ),
                    )
                    .in_file(contract.file.clone())
                    .at_opt(column.span),
                );
            }
            continue;
        }
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
