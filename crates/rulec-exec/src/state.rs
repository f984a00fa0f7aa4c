//! A product's manifest (`<out>/<product>/_rulec/manifest.json`): its build id, its files,
//! rows, schema, order, layout and the settings it was built with. A product directory is
//! built whole in a staging directory, manifest last, and published by one atomic swap
//! (see [`crate::publish`]), so the manifest always describes the files beside it.
//!
//! Metadata lives under `_rulec/`, which dataset readers (pyarrow, Spark, Hive) skip by its
//! `_` and which a `*.parquet` glob or the engine's listing does not descend into. Products
//! built before kept `manifest.json`, `plan-*.substrait` and `errors-*.parquet` beside the
//! data; such a manifest is still read (its file names are relative to the product too).

use crate::identity::{BuildId, FileIdentity};
use rulec_pack::SliceSetting;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

/// The directory of a product's metadata, beside its data.
pub const META_DIR: &str = "_rulec";

/// The manifest, under [`META_DIR`].
pub const MANIFEST_FILE: &str = "_rulec/manifest.json";

/// Where products built before [`META_DIR`] kept their manifest.
pub const LEGACY_MANIFEST_FILE: &str = "manifest.json";

/// The version of the manifest format (2: metadata under `_rulec/`, file names are paths
/// relative to the product directory, partitioned layouts).
pub const MANIFEST_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// The path relative to the product directory, `/`-separated
    /// (`part-….parquet`, `repo=a/part-….parquet`, `_rulec/plan-….substrait`).
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    /// Rows in a data file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// How a product's rows are laid out in files.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// Hive partition columns (`col=value/` directories, in this order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows_per_file: Option<u64>,
    /// A row group is closed once the writer holds this many bytes of it.
    #[serde(default)]
    pub row_group_bytes: u64,
    /// `zstd(N)`, `snappy` or `none`.
    #[serde(default)]
    pub compression: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
}

/// How a product's rows are ordered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ordering {
    /// `none` (no declared order: row order may differ run to run) or `sorted`.
    pub tier: String,
    /// The declared keys, `column` or `column desc` (also Parquet `sorting_columns`).
    pub by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub product: String,
    pub build_id: BuildId,
    pub rows: u64,
    pub files: Vec<FileEntry>,
    /// The Substrait plan the product was computed from.
    pub plan: FileEntry,
    pub schema: Vec<ColumnEntry>,
    pub order: Ordering,
    #[serde(default)]
    pub layout: Layout,
    /// Every effective runtime setting.
    pub settings: BTreeMap<String, String>,
    /// Rows refused by the output contract (tolerant mode): row, code, stage, message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorsEntry>,
    /// How a product built in slices was sliced (pack.yaml `slice_by`, `slices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<SliceSetting>,
    /// An append-incremental product: the files of each input it can be appended from, as
    /// they were when it was last built or appended to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appended_from: Option<BTreeMap<String, Vec<FileIdentity>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorsEntry {
    pub file: FileEntry,
    pub rows: u64,
}

impl Manifest {
    /// Every file the product is made of.
    pub fn all_files(&self) -> impl Iterator<Item = &FileEntry> {
        self.files
            .iter()
            .chain([&self.plan])
            .chain(self.errors.as_ref().map(|e| &e.file))
    }
}

/// Reads a product's manifest, if there is a readable one (also where products built
/// before `_rulec/` kept it).
pub fn read_manifest(product_dir: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(product_dir.join(MANIFEST_FILE))
        .or_else(|_| std::fs::read_to_string(product_dir.join(LEGACY_MANIFEST_FILE)))
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether the files a manifest names are there with their recorded sizes and a Parquet
/// trailer (`verify`: and their recorded SHA-256).
pub fn files_intact(product_dir: &Path, manifest: &Manifest, verify: bool) -> bool {
    manifest.all_files().all(|f| {
        let path = product_dir.join(&f.name);
        let Ok(meta) = std::fs::metadata(&path) else {
            return false;
        };
        if meta.len() != f.bytes {
            return false;
        }
        if f.name.ends_with(".parquet") && !has_parquet_trailer(&path) {
            return false;
        }
        !verify || sha256_file(&path).is_ok_and(|h| h == f.sha256)
    })
}

fn has_parquet_trailer(path: &Path) -> bool {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut magic = [0u8; 4];
    file.seek(SeekFrom::End(-4)).is_ok() && file.read_exact(&mut magic).is_ok() && &magic == b"PAR1"
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest as _, Sha256};
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let mut out = String::from("sha256:");
    for byte in hasher.finalize() {
        out.push_str(&format!("{byte:02x}"));
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, renamed over
/// it, and the directory synced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    // Renamed: the write is committed. Syncing the directory only makes it durable
    // against power loss; a failure here must not undo what is already published.
    let _ = sync_dir(dir);
    Ok(())
}

/// Syncs a directory, so that renames in it survive a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::File::open(dir) {
        Ok(d) => d.sync_all().or(Ok(())),
        Err(e) => Err(e),
    }
}

/// [`read_manifest`] of a product wherever it is (a local directory or object storage).
pub(crate) async fn read_product_manifest(
    session: &datafusion::execution::SessionState,
    product: &crate::Location,
) -> Option<Manifest> {
    match product {
        crate::Location::Local(dir) => read_manifest(dir),
        crate::Location::Object(object) => {
            let store = crate::objects::store(session.runtime_env(), object).ok()?;
            crate::objects::read_manifest(store.as_ref(), object).await
        }
    }
}

/// [`files_intact`] of a product wherever it is.
pub(crate) async fn product_intact(
    session: &datafusion::execution::SessionState,
    product: &crate::Location,
    manifest: &Manifest,
    verify: bool,
) -> bool {
    match product {
        crate::Location::Local(dir) => files_intact(dir, manifest, verify),
        crate::Location::Object(object) => {
            match crate::objects::store(session.runtime_env(), object) {
                Ok(store) => {
                    crate::objects::files_intact(store.as_ref(), object, manifest, verify).await
                }
                Err(_) => false,
            }
        }
    }
}
