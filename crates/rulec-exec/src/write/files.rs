//! The Parquet files of a product: rows routed to their Hive partition (`col=value/`), a new
//! file after `max_rows_per_file` rows, a row group closed once the writer holds
//! `row_group_bytes` of it. Runs on a blocking thread of its own (see [`WriterThread`]).

use super::sort::Rebatcher;
use datafusion::arrow::array::{Array as _, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::errors::{ParquetError, Result};
use datafusion::parquet::file::properties::WriterProperties;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// At most this many files are open at once (one per partition being written); writing to
/// another partition closes the one written to least recently.
const MAX_OPEN_FILES: usize = 32;

/// How a product's rows go into files.
#[derive(Debug, Clone)]
pub struct FileLayout {
    /// Indices of the partition columns in the product's schema.
    pub partition_by: Vec<usize>,
    /// Indices of the other columns: those the files hold.
    pub data_columns: Vec<usize>,
    /// The data files' schema: the product's without its partition columns.
    pub file_schema: SchemaRef,
    pub max_rows_per_file: Option<u64>,
    pub row_group_bytes: usize,
    /// Re-cut each file's rows into batches of [`WRITE_BATCH_ROWS`] (sorted products: the
    /// same bytes whatever the engine's batches).
    pub rebatch: bool,
    pub properties: WriterProperties,
}

/// A data file written.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Relative to the product directory, `/`-separated.
    pub name: String,
    pub rows: u64,
}

struct OpenFile {
    partition: String,
    name: String,
    writer: ArrowWriter<File>,
    rows: u64,
    last_used: u64,
}

/// The files of a product being written into `dir`.
pub struct ProductFiles {
    dir: PathBuf,
    prefix: String,
    layout: FileLayout,
    open: Vec<OpenFile>,
    /// A sorted product's rows held back per partition, until a whole batch is there.
    pending: HashMap<String, Rebatcher>,
    /// Files started per partition (for their names).
    started: HashMap<String, u64>,
    written: Vec<WrittenFile>,
    clock: u64,
    /// Bytes in the closed files.
    closed_bytes: u64,
    /// Bytes written so far (closed files and what the open ones have flushed), for progress.
    bytes: Arc<AtomicU64>,
}

impl ProductFiles {
    /// Files named `<prefix>-<n>.parquet` in `dir` (in partition directories below it).
    pub fn new(dir: &Path, prefix: &str, layout: FileLayout, bytes: Arc<AtomicU64>) -> Self {
        ProductFiles {
            dir: dir.to_path_buf(),
            prefix: prefix.to_owned(),
            layout,
            open: Vec::new(),
            pending: HashMap::new(),
            started: HashMap::new(),
            written: Vec::new(),
            clock: 0,
            closed_bytes: 0,
            bytes,
        }
    }

    /// Writes `batch` (the product's columns) into the files of its rows' partitions.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.layout.partition_by.is_empty() {
            return self.route(String::new(), batch.clone());
        }
        for (partition, rows) in partitions(batch, &self.layout.partition_by)? {
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(rows))?
            };
            self.route(partition, part)?;
        }
        Ok(())
    }

    /// Writes what is held back and closes every file. A product without partitions always
    /// has one file, even empty.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>> {
        let mut held: Vec<String> = self.pending.keys().cloned().collect::<Vec<String>>();
        held.sort();
        for partition in held {
            if let Some(rebatcher) = self.pending.remove(partition.as_str())
                && let Some(rest) = rebatcher.finish()?
            {
                self.append(&partition, rest)?;
            }
        }
        if self.layout.partition_by.is_empty() && self.written.is_empty() && self.open.is_empty() {
            self.open_file(String::new())?;
        }
        for file in std::mem::take(&mut self.open) {
            self.close(file)?;
        }
        self.written.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(self.written)
    }

    fn route(&mut self, partition: String, batch: RecordBatch) -> Result<()> {
        let batch = batch.project(&self.layout.data_columns)?;
        let batch = RecordBatch::try_new(
            Arc::clone(&self.layout.file_schema),
            batch.columns().to_vec(),
        )?;
        if !self.layout.rebatch {
            return self.append(&partition, batch);
        }
        let full = self
            .pending
            .entry(partition.clone())
            .or_default()
            .push(batch)?;
        for b in full {
            self.append(&partition, b)?;
        }
        Ok(())
    }

    /// Writes rows to the partition's files, opening one if needed (and closing the file
    /// written to least recently when too many are open).
    fn append(&mut self, partition: &str, batch: RecordBatch) -> Result<()> {
        self.clock += 1;
        let index = match self.open.iter().position(|f| f.partition == partition) {
            Some(i) => i,
            None => {
                if self.open.len() >= MAX_OPEN_FILES
                    && let Some(oldest) =
                        (0..self.open.len()).min_by_key(|&i| self.open[i].last_used)
                {
                    self.evict(oldest)?;
                }
                self.open_file(partition.to_owned())?
            }
        };
        self.open[index].last_used = self.clock;
        self.fill(index, batch)
    }

    /// Writes rows into open file `index`, then into new files of its partition each time
    /// one reaches `max_rows_per_file`.
    fn fill(&mut self, mut index: usize, mut batch: RecordBatch) -> Result<()> {
        while batch.num_rows() > 0 {
            let file = &mut self.open[index];
            let room = self
                .layout
                .max_rows_per_file
                .map_or(u64::MAX, |max| max - file.rows);
            let take = usize::try_from(room)
                .unwrap_or(usize::MAX)
                .min(batch.num_rows());
            file.writer.write(&batch.slice(0, take))?;
            file.rows += take as u64;
            if file.writer.memory_size() >= self.layout.row_group_bytes {
                file.writer.flush()?;
            }
            batch = batch.slice(take, batch.num_rows() - take);
            let full = self.layout.max_rows_per_file == Some(file.rows);
            let open: usize = self.open.iter().map(|f| f.writer.bytes_written()).sum();
            self.bytes
                .store(self.closed_bytes + open as u64, Ordering::Relaxed);
            if full {
                let full = self.open.remove(index);
                let partition = full.partition.clone();
                self.close(full)?;
                if batch.num_rows() > 0 {
                    index = self.open_file(partition)?;
                }
            }
        }
        Ok(())
    }

    /// Closes open file `index`, after writing the rows its partition holds back.
    fn evict(&mut self, index: usize) -> Result<()> {
        let partition = self.open[index].partition.clone();
        if let Some(rebatcher) = self.pending.remove(partition.as_str())
            && let Some(rest) = rebatcher.finish()?
        {
            self.fill(index, rest)?;
        }
        if let Some(i) = self.open.iter().position(|f| f.partition == partition) {
            let file = self.open.remove(i);
            self.close(file)?;
        }
        Ok(())
    }

    fn open_file(&mut self, partition: String) -> Result<usize> {
        let n = self.started.entry(partition.clone()).or_insert(0);
        let name = format!("{partition}{}-{n:05}.parquet", self.prefix);
        *n += 1;
        let path = self.dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let writer = ArrowWriter::try_new(
            File::create(&path)?,
            Arc::clone(&self.layout.file_schema),
            Some(self.layout.properties.clone()),
        )?;
        self.open.push(OpenFile {
            partition,
            name,
            writer,
            rows: 0,
            last_used: self.clock,
        });
        Ok(self.open.len() - 1)
    }

    fn close(&mut self, file: OpenFile) -> Result<()> {
        let OpenFile {
            name, writer, rows, ..
        } = file;
        let file = writer.into_inner()?;
        file.sync_all()?;
        self.closed_bytes += file.metadata()?.len();
        self.written.push(WrittenFile { name, rows });
        Ok(())
    }
}

/// The rows of each partition of `batch`, in the order partitions first appear, with the
/// partition's directory path (`col=value/…/`).
fn partitions(batch: &RecordBatch, columns: &[usize]) -> Result<Vec<(String, Vec<u32>)>> {
    let options = FormatOptions::default();
    let formatters = columns
        .iter()
        .map(|&i| ArrayFormatter::try_new(batch.column(i).as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let schema = batch.schema();
    let mut order: Vec<(String, Vec<u32>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in 0..batch.num_rows() {
        let mut path = String::new();
        for (formatter, &column) in formatters.iter().zip(columns) {
            let name = schema.field(column).name();
            if batch.column(column).is_null(row) {
                return Err(ParquetError::General(format!(
                    "partition column `{name}` is null in a row: a Hive partition directory has a value, never NULL (filter the rows or coalesce the column)"
                )));
            }
            let value = formatter.value(row).to_string();
            path.push_str(&escape(name));
            path.push('=');
            path.push_str(&escape(&value));
            path.push('/');
        }
        let row = u32::try_from(row).map_err(|e| ParquetError::General(e.to_string()))?;
        match index.get(&path) {
            Some(&i) => order[i].1.push(row),
            None => {
                index.insert(path.clone(), order.len());
                order.push((path, vec![row]));
            }
        }
    }
    Ok(order)
}

/// A partition column's name or value as a path segment: percent-encoded except ASCII
/// letters, digits and `-_.~`, as Hive readers decode it.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
