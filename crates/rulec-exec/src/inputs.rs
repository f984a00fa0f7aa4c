//! Inputs: found, checked against their contracts, and registered with the contract's
//! schema so that the engine reads exactly the declared types.

use crate::location::Location;
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
    crate::location::percent_encode_into(&absolute.to_string_lossy(), &mut text);
    if absolute.is_dir() && !text.ends_with('/') {
        text.push('/');
    }
    ListingTableUrl::parse(text)
}

/// The URL the engine reads `location` by (`directory`: a prefix to list, for an object
/// store; a local path says itself whether it is a directory).
pub(crate) fn location_url(
    location: &Location,
    directory: bool,
) -> datafusion::error::Result<ListingTableUrl> {
    match location {
        Location::Local(path) => table_url(path),
        Location::Object(object) => object.table_url(directory),
    }
}

/// Exactly `files` as a table with `schema`; `sorted_by`: each file is sorted so (its
/// `sorting_columns` say so), and the engine may skip sorts.
pub fn files_table(
    state: &SessionState,
    files: &[Location],
    schema: SchemaRef,
    sorted_by: Option<&[SortKey]>,
) -> datafusion::error::Result<Arc<dyn TableProvider>> {
    let urls = files
        .iter()
        .map(|f| location_url(f, false))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let options = match sorted_by {
        Some(keys) => listing_options(state).with_file_sort_order(vec![
            keys.iter()
                .map(|k| {
                    datafusion::prelude::col(datafusion::common::Column::new_unqualified(&k.column))
                        .sort(!k.descending, k.descending)
                })
                .collect(),
        ]),
        None => listing_options(state),
    };
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// A product's files as a table with the product's schema. Unpartitioned: exactly the files
/// its manifest names. Partitioned: its directory as a Hive-partitioned listing (the
/// partition values parsed from the `col=value/` paths; `_rulec/` is below no partition, so
/// not read), its columns put back in the product's order.
pub fn product_table(
    state: &SessionState,
    dir: &Location,
    files: &[Location],
    partition_by: &[String],
    schema: SchemaRef,
) -> datafusion::error::Result<Arc<dyn TableProvider>> {
    if partition_by.is_empty() {
        return files_table(state, files, schema, None);
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
    let config = ListingTableConfig::new(location_url(dir, true)?)
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

/// One data file of an input, wherever it is.
pub(crate) struct DataFile {
    /// How diagnostics name it (a path or URL).
    pub(crate) name: String,
    /// Its path relative to the input's location, `/`-separated (empty for an input that
    /// is one file).
    pub(crate) relative: String,
    pub(crate) location: Location,
    pub(crate) bytes: u64,
    /// Its modification time, in nanoseconds since the epoch.
    pub(crate) modified: u128,
}

/// The data files of an input (see [`crate::identity::data_files`] and
/// [`crate::objects::data_objects`]): `Ok(None)` if there is nothing at `location`.
pub(crate) async fn data_files(
    state: &SessionState,
    location: &Location,
) -> Result<Option<Vec<DataFile>>, Diagnostic> {
    let io = |e: &dyn std::fmt::Display| {
        Diagnostic::error(
            codes::INPUT_UNREADABLE,
            format!("cannot read `{location}`: {e}"),
        )
    };
    match location {
        Location::Local(path) => {
            if !path.exists() {
                return Ok(None);
            }
            let files = crate::identity::data_files(path).map_err(|e| io(&e))?;
            files
                .into_iter()
                .map(|file| {
                    let meta = std::fs::metadata(&file).map_err(|e| io(&e))?;
                    let relative = file.strip_prefix(path).unwrap_or(&file);
                    let relative: Vec<String> = relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos());
                    Ok(DataFile {
                        name: file.display().to_string(),
                        relative: if file == *path {
                            String::new()
                        } else {
                            relative.join("/")
                        },
                        location: Location::Local(file),
                        bytes: meta.len(),
                        modified,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Location::Object(object) => {
            let store = crate::objects::store(state.runtime_env(), object)?;
            let objects = crate::objects::data_objects(store.as_ref(), object)
                .await
                .map_err(|e| io(&e))?;
            if objects.is_empty() {
                return Ok(None);
            }
            Ok(Some(
                objects
                    .iter()
                    .map(|meta| {
                        let at = object.at(&meta.location);
                        DataFile {
                            name: at.to_string(),
                            relative: object.relative(&meta.location),
                            location: Location::Object(at),
                            bytes: meta.size,
                            modified: meta
                                .last_modified
                                .timestamp_nanos_opt()
                                .and_then(|n| u128::try_from(n).ok())
                                .unwrap_or(0),
                        }
                    })
                    .collect(),
            ))
        }
    }
}

/// The Parquet footer of a data file (its metadata and the 8 bytes after it).
pub(crate) async fn footer(
    state: &SessionState,
    file: &DataFile,
) -> datafusion::error::Result<bytes::Bytes> {
    let url = location_url(&file.location, false)?;
    let store = state.runtime_env().object_store(&url)?;
    let meta = datafusion::object_store::ObjectStoreExt::head(store.as_ref(), url.prefix()).await?;
    Ok(crate::objects::footer(store.as_ref(), &meta).await?)
}

/// The whole content of a data file.
pub(crate) async fn content(
    state: &SessionState,
    file: &DataFile,
) -> datafusion::error::Result<bytes::Bytes> {
    let url = location_url(&file.location, false)?;
    let store = state.runtime_env().object_store(&url)?;
    Ok(
        datafusion::object_store::ObjectStoreExt::get(store.as_ref(), url.prefix())
            .await?
            .bytes()
            .await?,
    )
}

/// Checks that `location` exists and its Parquet schema has every contract column with the
/// declared type, then returns a table that reads it with the contract's schema.
pub async fn check_input(
    state: &SessionState,
    table: &str,
    location: &Location,
    contract: &Contract,
) -> InputCheck {
    match checked_input(state, table, location, contract).await {
        Ok((provider, warnings, _)) => InputCheck::Ok(provider, warnings),
        Err(problems) => InputCheck::Failed(problems),
    }
}

/// [`check_input`], with the data files the table reads (what the input's identity is
/// made of).
pub(crate) async fn checked_input(
    state: &SessionState,
    table: &str,
    location: &Location,
    contract: &Contract,
) -> Result<(Arc<dyn TableProvider>, Vec<Diagnostic>, Vec<DataFile>), Vec<Diagnostic>> {
    let files = match data_files(state, location).await {
        Ok(Some(files)) => files,
        Ok(None) => {
            return Err(vec![
                Diagnostic::error(
                    codes::INPUT_MISSING,
                    match location {
                        Location::Local(_) => format!("input `{table}`: `{location}` does not exist"),
                        Location::Object(_) => format!(
                            "input `{table}`: there is no `.parquet` object at or below `{location}`"
                        ),
                    },
                )
                .in_file("pack.yaml")
                .with_help("fix the path under `inputs:` in pack.yaml, or pass --data DIR"),
            ]);
        }
        Err(d) => return Err(vec![d.in_file("pack.yaml")]),
    };
    if files.is_empty() {
        return Err(vec![unreadable(
            table,
            &location.to_string(),
            "it holds no .parquet file",
        )]);
    }
    let partitions: Vec<&ContractColumn> =
        contract.columns.iter().filter(|c| c.partition).collect();
    let mut problems = Vec::new();
    if !partitions.is_empty() {
        problems.extend(hive_layout(
            table,
            &location.to_string(),
            &files,
            &partitions,
            contract,
        ));
    }
    let order = contract_order(contract);
    let mut unordered: Option<String> = None;
    for file in &files {
        if file.bytes == 0 {
            problems.push(unreadable(table, &file.name, "the file is empty (0 bytes)"));
            continue;
        }
        let file_schema = match location_url(&file.location, false) {
            Ok(url) => listing_options(state).infer_schema(state, &url).await,
            Err(e) => Err(e),
        };
        match file_schema {
            Ok(schema) => problems.extend(compare(table, &file.name, &schema, contract)),
            Err(e) => problems.push(read_error(table, &file.name, &e)),
        }
        if !order.is_empty() && unordered.is_none() && !records_order(state, file, &order).await {
            unordered = Some(file.name.clone());
        }
    }
    if !problems.is_empty() {
        return Err(problems);
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
        // Exactly the files listed (and identified) here.
        let locations: Vec<Location> = files.iter().map(|f| f.location.clone()).collect();
        files_table(
            state,
            &locations,
            Arc::clone(&contract.schema),
            sorted.then_some(&order[..]),
        )
    } else {
        product_table(
            state,
            location,
            &[],
            &partition_names,
            Arc::clone(&contract.schema),
        )
    };
    match provider {
        Ok(t) => Ok((t, notes, files)),
        Err(e) => Err(vec![read_error(table, &location.to_string(), &e)]),
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
async fn records_order(state: &SessionState, file: &DataFile, order: &[SortKey]) -> bool {
    let Ok(footer) = footer(state, file).await else {
        return false;
    };
    let Some(metadata) = footer.len().checked_sub(8).and_then(|end| {
        datafusion::parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&footer[..end])
            .ok()
    }) else {
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
    input: &str,
    files: &[DataFile],
    partitions: &[&ContractColumn],
    contract: &Contract,
) -> Vec<Diagnostic> {
    let expected: Vec<String> = partitions.iter().map(|c| format!("{}=…", c.name)).collect();
    let problem = |message: String| {
        Diagnostic::error(codes::INPUT_LAYOUT, message)
            .in_file(contract.file.clone())
            .at_opt(partitions.first().and_then(|c| c.span))
    };
    if files.iter().any(|f| f.relative.is_empty()) {
        return vec![problem(format!(
            "input `{table}` has partition columns, so `{input}` must be a directory of `{}/` directories",
            expected.join("/")
        ))];
    }
    let mut problems = Vec::new();
    let mut checked = std::collections::BTreeSet::new();
    for file in files {
        let parts: Vec<&str> = file.relative.split('/').collect();
        let layout_ok = parts.len() == partitions.len() + 1
            && partitions.iter().zip(&parts).all(|(column, part)| {
                part.split_once('=')
                    .is_some_and(|(name, _)| name == column.name)
            });
        if !layout_ok {
            problems.push(problem(format!(
                "input `{table}`: `{}` is not in a `{}/` directory",
                file.relative,
                expected.join("/")
            )));
            continue;
        }
        for (column, part) in partitions.iter().zip(&parts) {
            if !checked.insert((*part).to_owned()) {
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

/// The contract columns `file_schema` lacks or types differently.
fn compare(
    table: &str,
    path: &str,
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
                            path,
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
                        path, column.name, column.type_text
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
                                path,
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

fn unreadable(table: &str, path: &str, why: &str) -> Diagnostic {
    Diagnostic::error(
        codes::INPUT_UNREADABLE,
        format!("input `{table}`: cannot read `{path}`: {why}"),
    )
    .in_file("pack.yaml")
}

fn read_error(table: &str, path: &str, err: &datafusion::error::DataFusionError) -> Diagnostic {
    Diagnostic::error(
        codes::INPUT_UNREADABLE,
        format!(
            "input `{table}`: cannot read `{}` as Parquet: {}",
            path,
            rulec_compile::clean_message(err)
        ),
    )
    .in_file("pack.yaml")
}
