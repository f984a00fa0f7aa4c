//! `bench-tool`, the helper of `cargo xtask gen-data` and `cargo xtask bench` (built in
//! release):
//!
//! - `gen-tpch SF OUT`: the TPC-H pack with generated data at scale factor SF (tpchgen),
//!   cast to the pack's contracts, as `OUT/` (rules, contracts, `pack.yaml` with inputs,
//!   `data/*.parquet`).
//! - `gen-cpg COPIES OUT`: the CPG pack over COPIES copies of its bundled data, each under
//!   new file ids, paths and SCIP symbols, as `OUT/`.
//! - `split-cpg CPG OUT`: the CPG pack at CPG (as `gen-cpg` makes it) with `libcst_files` and
//!   `symtable_files` split into one Parquet file per source file (directory inputs), the
//!   last source file's two files held back under `OUT/held-back/`, and the rules that
//!   unnest them declared `incremental: append` (the append benchmark adds the held-back
//!   files and runs again).
//! - `direct PACK OUT tables|views`: the pack's rules executed with a plain DataFusion
//!   `SessionContext` and written as Parquet — `tables`: each product written, then read by
//!   the next (what `rulec run` does, without rulec); `views`: every rule a view, each
//!   product materialized from its view, re-running its upstream chain. A fourth argument
//!   lists rules to leave out, comma-separated.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line helper"
)]

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::SessionContext;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rulec_pack::{PackFiles, load_pack};
use std::path::{Path, PathBuf};
use std::sync::Arc;

// The allocator rulec's binary uses, so that the plain-DataFusion baselines are measured
// on equal terms.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["gen-tpch", sf, out] => gen_tpch(sf.parse()?, Path::new(out)),
        ["gen-cpg", copies, out] => gen_cpg(copies.parse()?, Path::new(out)),
        ["split-cpg", cpg, out] => split_cpg(Path::new(cpg), Path::new(out)),
        ["direct", pack, out, mode, rest @ ..] => {
            // An optional comma-separated list of rules to leave out.
            let skip: Vec<&str> = rest
                .first()
                .map(|s| s.split(',').collect())
                .unwrap_or_default();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(direct(
                Path::new(pack),
                Path::new(out),
                mode == &"views",
                &skip,
            ))
        }
        _ => Err(
            "usage: bench-tool gen-tpch SF OUT | gen-cpg COPIES OUT | split-cpg CPG OUT | direct PACK OUT tables|views [SKIP,...]"
                .into(),
        ),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Copies a pack's rules and contracts (not its data or outputs) into `out`, with a
/// pack.yaml whose inputs are `data/<table>.parquet`.
fn copy_pack(from: &Path, out: &Path, name: &str, tables: &[&str]) -> Result<()> {
    std::fs::create_dir_all(out.join("contracts"))?;
    std::fs::create_dir_all(out.join("data"))?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, out.join(path.file_name().ok_or("name")?))?;
        }
    }
    for entry in std::fs::read_dir(from.join("contracts"))? {
        let path = entry?.path();
        std::fs::copy(
            &path,
            out.join("contracts").join(path.file_name().ok_or("name")?),
        )?;
    }
    let mut manifest = format!("name: {name}\ninputs:\n");
    for table in tables {
        manifest.push_str(&format!("  {table}: data/{table}.parquet\n"));
    }
    // The pack's per-product settings (order, slices, …) go with its rules, as written.
    let source: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(from.join("pack.yaml"))?)?;
    if let Some(products) = source.get("products") {
        let mut section = serde_yaml::Mapping::new();
        section.insert("products".into(), products.clone());
        manifest.push_str(&serde_yaml::to_string(&section)?);
    }
    std::fs::write(out.join("pack.yaml"), manifest)?;
    Ok(())
}

fn write_parquet(
    path: &Path,
    schema: SchemaRef,
    batches: impl Iterator<Item = RecordBatch>,
) -> Result<()> {
    let mut writer = ArrowWriter::try_new(std::fs::File::create(path)?, schema, None)?;
    for batch in batches {
        writer.write(&batch)?;
    }
    writer.close()?;
    Ok(())
}

fn gen_tpch(sf: f64, out: &Path) -> Result<()> {
    use tpchgen::generators::{
        CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
        PartSuppGenerator, RegionGenerator, SupplierGenerator,
    };
    use tpchgen_arrow::{
        CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow,
        RegionArrow, SupplierArrow,
    };
    let tables = [
        "customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier",
    ];
    copy_pack(&workspace().join("rules/tpch"), out, "tpch", &tables)?;
    let files = PackFiles::read_dir(out)?;
    let (pack, diagnostics) = load_pack(&files);
    let pack = pack.ok_or_else(|| format!("{diagnostics:?}"))?;
    for table in tables {
        let schema = Arc::clone(&pack.contracts[table].schema);
        let batches: Box<
            dyn Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>>,
        > = match table {
            "customer" => Box::new(CustomerArrow::new(CustomerGenerator::new(sf, 1, 1))),
            "lineitem" => Box::new(LineItemArrow::new(LineItemGenerator::new(sf, 1, 1))),
            "nation" => Box::new(NationArrow::new(NationGenerator::new(sf, 1, 1))),
            "orders" => Box::new(OrderArrow::new(OrderGenerator::new(sf, 1, 1))),
            "part" => Box::new(PartArrow::new(PartGenerator::new(sf, 1, 1))),
            "partsupp" => Box::new(PartSuppArrow::new(PartSuppGenerator::new(sf, 1, 1))),
            "region" => Box::new(RegionArrow::new(RegionGenerator::new(sf, 1, 1))),
            _ => Box::new(SupplierArrow::new(SupplierGenerator::new(sf, 1, 1))),
        };
        let target = Arc::clone(&schema);
        let cast_batches = batches.map(move |b| {
            let b = b.expect("tpchgen");
            let columns = b
                .columns()
                .iter()
                .zip(target.fields())
                .map(|(c, f)| cast(c, f.data_type()).expect("cast to the contract"))
                .collect();
            RecordBatch::try_new(Arc::clone(&target), columns).expect("batch")
        });
        write_parquet(
            &out.join("data").join(format!("{table}.parquet")),
            schema,
            cast_batches,
        )?;
        eprintln!("wrote {table}");
    }
    Ok(())
}

/// Rewrites the columns that identify a file or a symbol so that copy `k` is distinct.
fn offset_batch(batch: &RecordBatch, k: i64) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name().as_str();
        let rewritten: ArrayRef = match name {
            "file_id" | "document_id" => {
                let ids = column
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or("int64 id")?;
                Arc::new(
                    ids.iter()
                        .map(|v| v.map(|v| v + k * 1_000_000))
                        .collect::<Int64Array>(),
                )
            }
            "path" | "symbol" => {
                let text = column
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or("utf8")?;
                Arc::new(
                    text.iter()
                        .map(|v| {
                            v.map(|v| {
                                if k == 0 {
                                    v.to_owned()
                                } else {
                                    format!("copy{k}/{v}")
                                }
                            })
                        })
                        .collect::<StringArray>(),
                )
            }
            _ => Arc::clone(column),
        };
        columns.push(rewritten);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn gen_cpg(copies: i64, out: &Path) -> Result<()> {
    let tables = [
        "libcst_files",
        "scip_occurrences",
        "scip_symbols",
        "symtable_files",
    ];
    let source = workspace().join("rules/cpg");
    copy_pack(&source, out, "cpg", &tables)?;
    for table in tables {
        let file = std::fs::File::open(source.join("data").join(format!("{table}.parquet")))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>()?;
        let schema = batches
            .first()
            .map(RecordBatch::schema)
            .ok_or("empty input")?;
        let mut all = Vec::new();
        for k in 0..copies {
            for batch in &batches {
                all.push(offset_batch(batch, k)?);
            }
        }
        write_parquet(
            &out.join("data").join(format!("{table}.parquet")),
            schema,
            all.into_iter(),
        )?;
        eprintln!("wrote {table} x{copies}");
    }
    Ok(())
}

/// The CPG rules that read one split table row by row (`incremental: append`).
const APPENDED: &[&str] = &["libcst_nodes", "libcst_edges", "symtable_symbols"];

fn split_cpg(cpg: &Path, out: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out.join("contracts"))?;
    for entry in std::fs::read_dir(cpg)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, out.join(path.file_name().unwrap_or_default()))?;
        }
    }
    for entry in std::fs::read_dir(cpg.join("contracts"))? {
        let path = entry?.path();
        std::fs::copy(
            &path,
            out.join("contracts")
                .join(path.file_name().unwrap_or_default()),
        )?;
    }
    let mut held_back = None;
    for table in ["libcst_files", "symtable_files"] {
        let file = std::fs::File::open(cpg.join("data").join(format!("{table}.parquet")))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        let mut rows: Vec<(i64, RecordBatch)> = Vec::new();
        for batch in reader {
            let batch = batch?;
            let ids = batch
                .column(batch.schema().index_of("file_id")?)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or("int64 file_id")?
                .clone();
            for i in 0..batch.num_rows() {
                rows.push((ids.value(i), batch.slice(i, 1)));
            }
        }
        rows.sort_by_key(|(id, _)| *id);
        let last = *held_back.get_or_insert(rows.last().ok_or("no rows")?.0);
        let dir = out.join("data").join(table);
        let held = out.join("held-back").join(table);
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(&held)?;
        for (id, batch) in rows {
            let target = if id == last { &held } else { &dir };
            write_parquet(
                &target.join(format!("{id:08}.parquet")),
                batch.schema(),
                std::iter::once(batch),
            )?;
        }
        eprintln!("split {table}, file {last} held back");
    }
    let data = std::path::absolute(cpg.join("data"))?;
    let mut manifest = String::from("name: cpg-split\ninputs:\n");
    for table in ["libcst_files", "symtable_files"] {
        manifest.push_str(&format!("  {table}: data/{table}\n"));
    }
    for table in ["scip_occurrences", "scip_symbols"] {
        manifest.push_str(&format!("  {table}: {}/{table}.parquet\n", data.display()));
    }
    manifest.push_str("products:\n  cpg_graph_by_file: {slice_by: file_id, slices: 16}\n");
    for rule in APPENDED {
        manifest.push_str(&format!("  {rule}: {{incremental: append}}\n"));
    }
    std::fs::write(out.join("pack.yaml"), manifest)?;
    Ok(())
}

async fn direct(pack_dir: &Path, out: &Path, views: bool, skip: &[&str]) -> Result<()> {
    let files = PackFiles::read_dir(pack_dir)?;
    let (pack, diagnostics) = load_pack(&files);
    let pack = pack.ok_or_else(|| format!("{diagnostics:?}"))?;
    let ctx = SessionContext::new_with_state(rulec_exec::runtime_session());
    for (table, path) in &pack.manifest.inputs {
        match rulec_exec::check_input(
            &ctx.state(),
            table,
            &pack_dir.join(path).into(),
            &pack.contracts[table],
        )
        .await
        {
            rulec_exec::InputCheck::Ok(provider, _) => {
                ctx.register_table(table.as_str(), provider)?;
            }
            rulec_exec::InputCheck::Failed(d) => return Err(format!("{d:?}").into()),
        }
    }
    std::fs::create_dir_all(out)?;
    let rules: Vec<_> = pack
        .rules
        .iter()
        .filter(|r| !skip.contains(&r.name.as_str()))
        .collect();
    if views {
        for rule in &rules {
            ctx.sql(&format!("CREATE VIEW {} AS {}", rule.name, rule.text))
                .await?;
        }
    }
    for rule in &rules {
        let started = std::time::Instant::now();
        let target = out.join(format!("{}.parquet", rule.name));
        let df = if views {
            ctx.table(rule.name.as_str()).await?
        } else {
            ctx.sql(&rule.text).await?
        };
        df.write_parquet(
            target.to_str().ok_or("utf8 path")?,
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await?;
        eprintln!(
            "{:<28} {:>8.3}s",
            rule.name,
            started.elapsed().as_secs_f64()
        );
        if !views {
            ctx.register_parquet(
                rule.name.as_str(),
                target.to_str().ok_or("utf8 path")?,
                Default::default(),
            )
            .await?;
        }
    }
    Ok(())
}
