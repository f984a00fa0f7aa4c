//! Identities: of input data (files, sizes, modification times, Parquet footers), and the
//! build id of every product.
//!
//! A product's build id hashes its query fingerprint and schema fingerprint, the runtime
//! profile, the function registry and rulec's version, and the identity of everything it
//! reads — column by column: for an upstream product, the identity of each column it reads
//! (that column's projected fingerprint and, recursively, what that column reads), and of
//! its rows when it reads their number only. A new upstream column that a product does not
//! read therefore leaves its build id alone. Inputs are identified as whole tables (a file
//! changes as a whole).

use rulec_compile::{CompiledPack, Pipeline, column_fingerprint, rows_fingerprint};
use rulec_contract::sha256_hex;
use rulec_lineage::{ColumnRef, PackLineage};
use rulec_pack::Pack;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How input data is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputIdentity {
    /// Paths, sizes, modification times and Parquet footers (fast).
    #[default]
    Metadata,
    /// Paths and a SHA-256 of every byte.
    Content,
}

/// The data files of an input path: the file itself, or every `.parquet` file below a
/// directory, sorted. Names starting with `.` or `_`, of files or of directories at any
/// depth, are not data (other writers' temporaries, metadata): reading an input and its
/// identity both use this one list.
pub fn data_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let p = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with(['.', '_']);
            if hidden {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One data file of an input and its identity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    /// The path relative to the input path, `/`-separated (empty for an input that is a file).
    pub path: String,
    /// Size, modification time and Parquet footer hash (or content hash).
    pub id: String,
}

/// The identities of an input's data files ([`crate::inputs::data_files`], in their order):
/// size, modification time and a SHA-256 of the Parquet footer (`Metadata`), or a SHA-256
/// of the whole content (`Content`).
pub(crate) async fn input_files(
    state: &datafusion::execution::SessionState,
    files: &[crate::inputs::DataFile],
    mode: InputIdentity,
) -> datafusion::error::Result<Vec<FileIdentity>> {
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let (digest, modified) = match mode {
            InputIdentity::Metadata => (
                sha256_hex(&crate::inputs::footer(state, file).await?),
                file.modified,
            ),
            // Content alone: a touch, a checkout or a restored cache changes nothing.
            InputIdentity::Content => (sha256_hex(&crate::inputs::content(state, file).await?), 0),
        };
        out.push(FileIdentity {
            path: file.relative.clone(),
            id: format!("{}\t{modified}\t{digest}", file.bytes),
        });
    }
    Ok(out)
}

/// The identity of an input's data: `sha256:` over each file's path (relative to the input
/// path), size, modification time and Parquet footer (or whole content).
pub fn files_identity(files: &[FileIdentity]) -> String {
    let text: String = files
        .iter()
        .map(|f| format!("{}\t{}\n", f.path, f.id))
        .collect();
    sha256_hex(text.as_bytes())
}

/// A product's build id and what it was made of (kept in its manifest, so that a later
/// run can say why it rebuilds).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildId {
    pub id: String,
    /// `query`, `schema`, `profile`, `rulec`, `functions`, and per source read:
    /// `input:<table>` or `rule:<product>.<column>` / `rule:<product>.*`.
    pub components: BTreeMap<String, String>,
}

/// Everything a build id depends on besides the pack.
pub struct BuildContext<'a> {
    pub pack: &'a Pack,
    pub compiled: &'a CompiledPack,
    pub lineage: &'a PackLineage,
    /// Input table → data identity (absent: the input could not be read).
    pub inputs: &'a BTreeMap<String, String>,
    pub profile_hash: String,
    /// Per product: its output settings (declared order, contract key and non-null
    /// columns, tolerance), which change what is written.
    pub outputs: BTreeMap<String, String>,
}

/// rulec's version and the function registry, as one component.
fn functions_identity() -> String {
    let functions = rulec_compile::Functions::get();
    sha256_hex(functions.names().join("\n").as_bytes())
}

/// The rulec version a build id records.
pub fn rulec_version() -> String {
    format!(
        "rulec {} / {} / fingerprint v{}",
        env!("CARGO_PKG_VERSION"),
        rulec_compile::ENGINE,
        rulec_compile::FINGERPRINT_VERSION
    )
}

/// Computes build ids of every compiled rule (memoizing column identities).
pub fn build_ids(ctx: &BuildContext<'_>) -> BTreeMap<String, BuildId> {
    let mut memo = Memo {
        ctx,
        pipeline: Pipeline::new(),
        columns: BTreeMap::new(),
        functions: functions_identity(),
    };
    let mut out = BTreeMap::new();
    for rule in &ctx.compiled.rules {
        let (Some(fingerprint), Some(schema)) = (&rule.fingerprint, &rule.schema_fingerprint)
        else {
            continue;
        };
        let mut components = BTreeMap::new();
        components.insert("query".to_owned(), fingerprint.clone());
        components.insert("schema".to_owned(), schema.clone());
        components.insert("profile".to_owned(), ctx.profile_hash.clone());
        components.insert("rulec".to_owned(), rulec_version());
        components.insert("functions".to_owned(), memo.functions.clone());
        if let Some(output) = ctx.outputs.get(&rule.name) {
            components.insert("output".to_owned(), output.clone());
        }
        for source in ctx.lineage.reads(&rule.name) {
            let (key, id) = memo.source(&source);
            components.insert(key, id);
        }
        let text: String = components
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        out.insert(
            rule.name.clone(),
            BuildId {
                id: sha256_hex(text.as_bytes()),
                components,
            },
        );
    }
    out
}

struct Memo<'a> {
    ctx: &'a BuildContext<'a>,
    pipeline: Pipeline,
    /// (product, column or "" for rows) → identity.
    columns: BTreeMap<(String, String), String>,
    functions: String,
}

impl Memo<'_> {
    /// The component key and identity of a source a product reads.
    fn source(&mut self, source: &ColumnRef) -> (String, String) {
        let table = &source.table;
        if let Some(contract) = self.ctx.pack.contracts.get(table) {
            let data = self
                .ctx
                .inputs
                .get(table)
                .cloned()
                .unwrap_or_else(|| "unreadable".to_owned());
            return (
                format!("input:{table}"),
                sha256_hex(format!("{}\n{data}", contract.fingerprint).as_bytes()),
            );
        }
        let key = if source.is_rows() {
            format!("rule:{table}.*")
        } else {
            format!("rule:{table}.{}", source.column)
        };
        (key, self.column(table, &source.column))
    }

    /// The identity of one column (or, for `""`, the rows) of an upstream product.
    fn column(&mut self, rule: &str, column: &str) -> String {
        let memo_key = (rule.to_owned(), column.to_owned());
        if let Some(id) = self.columns.get(&memo_key) {
            return id.clone();
        }
        let plan = self.ctx.compiled.rule(rule).and_then(|r| r.plan.as_ref());
        let lineage = self.ctx.lineage.rule(rule);
        let (projected, sources): (Option<String>, Vec<ColumnRef>) = match (plan, lineage) {
            (Some(plan), Some(lineage)) if column.is_empty() => (
                rows_fingerprint(&self.pipeline, plan),
                lineage.rows.iter().cloned().collect(),
            ),
            (Some(plan), Some(lineage)) => (
                column_fingerprint(&self.pipeline, plan, column),
                lineage
                    .column(column)
                    .map(|d| d.keys().cloned().collect())
                    .unwrap_or_default(),
            ),
            _ => (None, Vec::new()),
        };
        let mut text = format!(
            "{}\nprofile={}\nrulec={}\nfunctions={}\noutput={}\n",
            projected.unwrap_or_else(|| "unknown".to_owned()),
            self.ctx.profile_hash,
            rulec_version(),
            self.functions,
            self.ctx
                .outputs
                .get(rule)
                .map(String::as_str)
                .unwrap_or_default()
        );
        let mut parts: BTreeMap<String, String> = BTreeMap::new();
        for source in &sources {
            let (k, v) = self.source(source);
            parts.insert(k, v);
        }
        for (k, v) in parts {
            text.push_str(&format!("{k}={v}\n"));
        }
        let id = sha256_hex(text.as_bytes());
        self.columns.insert(memo_key, id.clone());
        id
    }
}

/// Why a product is rebuilt: the differences between the build id it has and the one it
/// needs, in words.
pub fn rebuild_reasons(old: &BuildId, new: &BuildId) -> Vec<String> {
    let mut reasons = Vec::new();
    let changed = |k: &str| old.components.get(k) != new.components.get(k);
    // A new fingerprint encoding changes every query fingerprint, and with them every
    // upstream column identity, without any rule changing: one reason says it all.
    let version = |b: &BuildId| {
        b.components
            .get("rulec")
            .and_then(|r| r.rsplit_once("fingerprint v"))
            .map(|(_, v)| v.to_owned())
    };
    let new_encoding = version(old) != version(new);
    if new_encoding {
        reasons.push("fingerprint version changed".to_owned());
    } else if changed("query") || changed("schema") {
        reasons.push("query changed".to_owned());
    }
    if changed("profile") {
        reasons.push("profile changed".to_owned());
    }
    if changed("output") {
        reasons.push("output settings changed".to_owned());
    }
    if !new_encoding && (changed("rulec") || changed("functions")) {
        reasons.push("rulec version changed".to_owned());
    }
    let mut inputs = std::collections::BTreeSet::new();
    let mut upstream = std::collections::BTreeSet::new();
    for key in old.components.keys().chain(new.components.keys()) {
        if old.components.get(key) == new.components.get(key) {
            continue;
        }
        if let Some(table) = key.strip_prefix("input:") {
            inputs.insert(table.to_owned());
        } else if let Some(source) = key.strip_prefix("rule:")
            && !new_encoding
        {
            let product = source.rsplit_once('.').map(|(p, _)| p).unwrap_or(source);
            upstream.insert(product.to_owned());
        }
    }
    for table in inputs {
        reasons.push(format!("input {table} changed"));
    }
    for product in upstream {
        reasons.push(format!("{product} changed"));
    }
    if reasons.is_empty() && old.id != new.id {
        reasons.push("build id changed".to_owned());
    }
    reasons
}
