//! The check cache on disk: each rule's check result under its rule key, so that a new
//! process (`rulec check` in a pre-commit hook) plans only the rules whose inputs changed.
//!
//! One file per pack, `<cache dir>/check.json`, replaced atomically (written beside, then
//! renamed), so concurrent runs each see a whole file: the last writer's. A file that does
//! not parse, or that another rulec version wrote, is ignored and replaced. Results are
//! keyed by what they were computed from, so a stale entry is never used: it is never
//! looked up. The cache can always be deleted.

use arrow_schema::{Schema, SchemaRef};
use rulec_compile::{CompiledPack, CompiledRule};
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::RuleSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The cache directory's name in a pack (hidden, so pack loading skips it).
pub const CACHE_DIR: &str = ".rulec-cache";

/// The version of the cache file's layout. Bump it when [`Entry`] or [`RuleSummary`]
/// changes.
const FORMAT: u32 = 2;

const FILE: &str = "check.json";

/// How the cache file was found when the cache was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatus {
    /// No cache file yet.
    Missing,
    /// A cache file with this many results.
    Loaded(usize),
    /// A cache file that was ignored, and why (it is rebuilt).
    Ignored(String),
}

/// A pack's check cache, read once when opened and written after the check.
pub struct CheckCache {
    dir: PathBuf,
    entries: BTreeMap<String, Entry>,
    summaries: BTreeMap<String, RuleSummary>,
    status: CacheStatus,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    rulec: String,
    /// Rule results by rule key.
    entries: BTreeMap<String, Entry>,
    /// What loading needs of each rule text (table references, lints, parse errors), by
    /// summary key: unchanged rules are not parsed.
    summaries: BTreeMap<String, RuleSummary>,
}

/// The version fields of a cache file, read before the rest.
#[derive(Deserialize)]
struct Header {
    format: u32,
    rulec: String,
}

/// One rule's result: what `rulec check` reports of it and what its readers need.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    diagnostics: Vec<Diagnostic>,
    fingerprint: Option<String>,
    schema_fingerprint: Option<String>,
    /// The output schema in Arrow IPC form, hex-encoded.
    output_schema: Option<String>,
}

impl CheckCache {
    /// Opens the cache in `dir` (which need not exist yet).
    pub fn open(dir: &Path) -> Self {
        let empty = |status| (BTreeMap::new(), BTreeMap::new(), status);
        let (entries, summaries, status) = match std::fs::read(dir.join(FILE)) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => empty(CacheStatus::Missing),
            Err(err) => empty(CacheStatus::Ignored(err.to_string())),
            Ok(bytes) => match serde_json::from_slice::<Header>(&bytes) {
                // The version is read first: another version's entries may not parse.
                Ok(header) if header.format != FORMAT || header.rulec != version() => {
                    empty(CacheStatus::Ignored(format!(
                        "written by rulec {} (cache format {})",
                        header.rulec, header.format
                    )))
                }
                Err(err) => empty(CacheStatus::Ignored(format!("unreadable: {err}"))),
                Ok(_) => match serde_json::from_slice::<CacheFile>(&bytes) {
                    Err(err) => empty(CacheStatus::Ignored(format!("unreadable: {err}"))),
                    Ok(file) => {
                        let count = file.entries.len();
                        (file.entries, file.summaries, CacheStatus::Loaded(count))
                    }
                },
            },
        };
        CheckCache {
            dir: dir.to_path_buf(),
            entries,
            summaries,
            status,
        }
    }

    /// How the cache file was found.
    pub fn status(&self) -> CacheStatus {
        self.status.clone()
    }

    /// The result kept for `key`, without plans. An entry whose schema does not decode is
    /// not used.
    pub fn lookup(&self, key: &str) -> Option<CompiledRule> {
        let entry = self.entries.get(key)?;
        let output_schema = match &entry.output_schema {
            Some(hex) => Some(decode_schema(hex)?),
            None => None,
        };
        Some(CompiledRule {
            name: String::new(),
            file: String::new(),
            initial_plan: None,
            plan: None,
            output_schema,
            fingerprint: entry.fingerprint.clone(),
            schema_fingerprint: entry.schema_fingerprint.clone(),
            diagnostics: entry.diagnostics.clone(),
            compile_time: std::time::Duration::ZERO,
            phase_times: Default::default(),
            key: key.to_owned(),
            reused: true,
        })
    }

    /// The summary kept for a rule text's [`crate::summary_key`].
    pub fn summary(&self, key: &str) -> Option<RuleSummary> {
        self.summaries.get(key).cloned()
    }

    /// Keeps the results of `compiled` and `summaries` (and only those) and writes the file
    /// when that changes it. Errors writing are ignored: the cache is an optimization.
    pub fn store(
        &mut self,
        compiled: &CompiledPack,
        summaries: &std::collections::HashMap<String, RuleSummary>,
    ) {
        let summaries: BTreeMap<String, RuleSummary> = summaries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let entries: BTreeMap<String, Entry> = compiled
            .rules
            .iter()
            // A panic is not a result worth keeping: the next run tries again.
            .filter(|r| {
                !r.diagnostics
                    .iter()
                    .any(|d| d.code == codes::INTERNAL_ERROR)
            })
            .map(|r| {
                // A result read from this cache is kept as it was read (not encoded again).
                let kept = r.reused.then(|| self.entries.get(&r.key)).flatten();
                (r.key.clone(), kept.cloned().unwrap_or_else(|| entry_of(r)))
            })
            .collect();
        let unchanged = matches!(self.status, CacheStatus::Loaded(_))
            && entries == self.entries
            && summaries == self.summaries;
        self.entries = entries;
        self.summaries = summaries;
        if !unchanged {
            let _ = self.write();
        }
    }

    fn write(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Like other tools' caches: never committed, skipped by backup tools.
        for (name, text) in [
            (".gitignore", "# Created by rulec.\n*\n"),
            (
                "CACHEDIR.TAG",
                "Signature: 8a477f597d28d172789f06886806bc55\n# rulec's check cache.\n",
            ),
        ] {
            let path = self.dir.join(name);
            if !path.exists() {
                std::fs::write(path, text)?;
            }
        }
        let file = CacheFile {
            format: FORMAT,
            rulec: version(),
            entries: self.entries.clone(),
            summaries: self.summaries.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        // Written under a name of this process's own, then renamed over the file: readers
        // and concurrent writers only ever see whole files.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let temp = self
            .dir
            .join(format!(".{FILE}.{}.{nanos}.tmp", std::process::id()));
        std::fs::write(&temp, bytes)?;
        std::fs::rename(&temp, self.dir.join(FILE)).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }
}

/// The build written into the cache: results of another build are not trusted. The crate
/// version alone does not tell builds apart (every build from source says the same), so the
/// running executable's size and modification time are part of it: a rebuilt rulec starts
/// a new cache.
fn version() -> String {
    static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let executable = std::env::current_exe()
            .and_then(std::fs::metadata)
            .ok()
            .and_then(|m| {
                let modified = m.modified().ok()?;
                let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
                Some(format!(
                    "{}+{}.{}",
                    m.len(),
                    since.as_secs(),
                    since.subsec_nanos()
                ))
            })
            .unwrap_or_else(|| "unknown-build".to_owned());
        format!("{} ({executable})", env!("CARGO_PKG_VERSION"))
    });
    VERSION.clone()
}

fn entry_of(rule: &CompiledRule) -> Entry {
    Entry {
        diagnostics: rule.diagnostics.clone(),
        fingerprint: rule.fingerprint.clone(),
        schema_fingerprint: rule.schema_fingerprint.clone(),
        output_schema: rule.output_schema.as_deref().map(encode_schema),
    }
}

fn encode_schema(schema: &Schema) -> String {
    let builder = arrow_ipc::convert::IpcSchemaEncoder::new().schema_to_fb(schema);
    let mut hex = String::with_capacity(builder.finished_data().len() * 2);
    for byte in builder.finished_data() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_schema(hex: &str) -> Option<SchemaRef> {
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    };
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some(digit(*high)? << 4 | digit(*low)?),
            _ => None,
        })
        .collect::<Option<_>>()?;
    // The flatbuffer is verified before it is read, and a schema Arrow cannot build from it
    // (it panics on some types it does not know) is a miss too.
    let schema = arrow_ipc::root_as_schema(&bytes).ok()?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Arc::new(arrow_ipc::convert::fb_to_schema(schema))
    }))
    .ok()
}
