//! Shared helpers: paths, loading packs, running the binary, sessions over real inputs.

use datafusion::prelude::SessionContext;
use rulec_compile::CompiledPack;
use rulec_pack::Pack;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    // `cargo test` sets CARGO_MANIFEST_DIR at run time; it wins over the compile-time value,
    // which names wherever a shared target directory's test binary was first built.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear scratch");
    }
    std::fs::create_dir_all(&dir).expect("create scratch");
    dir
}

/// Loads and checks a pack as `rulec check` does; loading must be clean.
pub fn compile(pack_dir: &Path) -> (Pack, CompiledPack) {
    let project = rulec_driver::Project::load(pack_dir).expect("read pack");
    let diagnostics = &project.load_diagnostics;
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    (
        project.pack.expect("pack"),
        project.compiled.expect("compiled"),
    )
}

/// A copy of the bundled CPG pack (rules, contracts, data; no products) at `to`.
pub fn copy_cpg(to: &Path) {
    copy_tree(&root().join("rules/cpg"), to, &["out"]);
}

/// Asserts that every file a product's manifest names (data, plan, errors) is there, whole:
/// the recorded size and SHA-256, data files readable Parquet with the recorded rows, which
/// add up to the product's. Returns the product's rows.
pub fn assert_files_whole(product_dir: &Path) -> u64 {
    use sha2::Digest as _;
    let text = std::fs::read_to_string(product_dir.join("_rulec/manifest.json"))
        .expect("a published product has a manifest");
    let manifest: serde_json::Value =
        serde_json::from_str(&text).expect("a manifest is always whole JSON");
    let where_ = product_dir.display();
    let data = manifest["files"].as_array().expect("files");
    let mut files: Vec<&serde_json::Value> = data.iter().collect();
    files.push(&manifest["plan"]);
    files.extend(manifest["errors"].get("file"));
    for file in files {
        let name = file["name"].as_str().expect("name");
        let bytes = std::fs::read(product_dir.join(name))
            .unwrap_or_else(|e| panic!("{where_}: `{name}` is named but not there: {e}"));
        assert_eq!(
            Some(bytes.len() as u64),
            file["bytes"].as_u64(),
            "{where_}: `{name}` size"
        );
        let sha: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let sha = format!("sha256:{sha}");
        assert_eq!(
            Some(sha.as_str()),
            file["sha256"].as_str(),
            "{where_}: `{name}` SHA-256"
        );
    }
    let mut total = 0;
    for file in data {
        let name = file["name"].as_str().expect("name");
        let rows: usize = read_parquet(&product_dir.join(name))
            .iter()
            .map(arrow::array::RecordBatch::num_rows)
            .sum();
        assert_eq!(
            Some(rows as u64),
            file["rows"].as_u64(),
            "{where_}: `{name}` rows"
        );
        total += rows as u64;
    }
    assert_eq!(Some(total), manifest["rows"].as_u64(), "{where_}: rows");
    total
}

/// Settings some tests add to the CPG pack, so that its products include sorted ones (with
/// ties in the sort keys, broken by nested columns) and a partitioned one in rolling files;
/// the pack's own `cpg_graph_by_file` is built in slices.
pub const CPG_LAYOUTS: &str = "  cpg_edges:\n    order_by: [file_id, kind]\n  symtable_symbols:\n    order_by: [file_id desc]\n    partition_by: [block_type]\n    max_rows_per_file: 400\n";

/// The CPG pack, with [`CPG_LAYOUTS`], copied to `to`.
pub fn copy_cpg_with_layouts(to: &Path) {
    copy_cpg(to);
    let mut manifest = std::fs::read_to_string(to.join("pack.yaml")).expect("pack.yaml");
    manifest.push_str(CPG_LAYOUTS);
    std::fs::write(to.join("pack.yaml"), manifest).expect("pack.yaml");
}

/// The TPC-H pack copied to `to`, with the tables generated in-process (SF 0.01,
/// [`crate::execute::tpch_batches`]) as Parquet files in `data/`, named in pack.yaml's
/// `inputs`.
pub fn tpch_pack_with_data(to: &Path) -> Pack {
    copy_tree(&root().join("rules/tpch"), to, &["out"]);
    let (pack, _) = compile(to);
    std::fs::create_dir_all(to.join("data")).expect("data");
    let mut manifest = std::fs::read_to_string(to.join("pack.yaml")).expect("pack.yaml");
    manifest.push_str("inputs:\n");
    for (table, batches) in crate::execute::tpch_batches(&pack) {
        let file = to.join("data").join(format!("{table}.parquet"));
        let out = std::fs::File::create(&file).expect("create");
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(out, batches[0].schema(), None).expect("writer");
        for batch in &batches {
            writer.write(batch).expect("write");
        }
        writer.close().expect("close");
        manifest.push_str(&format!("  {table}: data/{table}.parquet\n"));
    }
    std::fs::write(to.join("pack.yaml"), manifest).expect("pack.yaml");
    compile(to).0
}

/// A corpus of cases laid over a base pack: `<corpus>/_base/`, and one directory per case
/// whose files add to or replace the base's (`tests/fixtures/{check,run,hostile,broken-data,diff}`).
pub struct Corpus {
    pub dir: PathBuf,
}

impl Corpus {
    /// The corpus at `relative` below the workspace root.
    pub fn at(relative: &str) -> Corpus {
        Corpus {
            dir: root().join(relative),
        }
    }

    /// Its cases (every directory whose name does not start with `_`), sorted.
    pub fn cases(&self) -> Vec<String> {
        let mut cases: Vec<String> = std::fs::read_dir(&self.dir)
            .expect("corpus")
            .map(|e| e.expect("entry"))
            .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('_'))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        cases.sort();
        cases
    }

    /// Copies the base pack to `to`.
    pub fn base(&self, to: &Path) {
        copy_tree(&self.dir.join("_base"), to, &[]);
    }

    /// Lays `case`'s files over what is at `to`, but those named in `skip` (its
    /// expectations).
    pub fn lay(&self, case: &str, to: &Path, skip: &[&str]) {
        copy_tree(&self.dir.join(case), to, skip);
    }

    /// A file of `case`.
    pub fn file(&self, case: &str, name: &str) -> PathBuf {
        self.dir.join(case).join(name)
    }
}

/// A published product's data files as (directory, SHA-256), sorted: the same for two
/// versions with the same bytes (file names carry each version's nonce).
pub fn data_file_hashes(product_dir: &Path) -> Vec<(String, String)> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(product_dir.join("_rulec/manifest.json")).expect("manifest"),
    )
    .expect("manifest json");
    let mut hashes: Vec<(String, String)> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let name = f["name"].as_str().expect("name");
            let dir = name.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
            (dir, f["sha256"].as_str().expect("sha256").to_owned())
        })
        .collect();
    hashes.sort();
    hashes
}

/// Runs the `rulec` binary from the workspace root.
pub fn rulec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rulec"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run rulec")
}

/// A runtime session with every input of `pack` registered from its data (checked against
/// its contract).
pub async fn session_with_inputs(pack: &Pack, pack_dir: &Path) -> SessionContext {
    let ctx = SessionContext::new_with_state(rulec_exec::runtime_session());
    for (table, path) in &pack.manifest.inputs {
        let contract = &pack.contracts[table];
        match rulec_exec::check_input(&ctx.state(), table, &pack_dir.join(path).into(), contract)
            .await
        {
            rulec_exec::InputCheck::Ok(provider, _) => {
                ctx.register_table(table.as_str(), provider)
                    .expect("register");
            }
            rulec_exec::InputCheck::Failed(d) => panic!("input {table}: {d:?}"),
        }
    }
    ctx
}

/// Copies a directory tree, leaving out entries named in `skip` (at any depth).
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read") {
        let entry = entry.expect("entry");
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target, skip);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The data file of a product, as its manifest names it.
pub fn product_file(out: &Path, product: &str) -> PathBuf {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(product).join("_rulec/manifest.json")).expect("manifest"),
    )
    .expect("manifest json");
    out.join(product)
        .join(manifest["files"][0]["name"].as_str().expect("file name"))
}

/// Every batch of a Parquet file.
pub fn read_parquet(path: &Path) -> Vec<arrow::array::RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches")
}

/// Every row of `batches`, its values formatted and joined by `|`, sorted: a multiset of
/// rows to compare.
pub fn sorted_rows(batches: &[arrow::array::RecordBatch]) -> Vec<String> {
    let options = arrow::util::display::FormatOptions::default();
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c, &options).expect("fmt"))
            .collect();
        for row in 0..batch.num_rows() {
            let values: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            rows.push(values.join("|"));
        }
    }
    rows.sort();
    rows
}

/// Writes `batch` as one Parquet file.
pub fn write_parquet(path: &Path, batch: &arrow::array::RecordBatch) {
    let file = std::fs::File::create(path).expect("create");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}
