//! Hostile rules and broken data: `tests/fixtures/hostile/` and
//! `tests/fixtures/broken-data/` (their READMEs describe the cases). Every case must end in
//! its diagnostic and exit code, never a panic, a stack overflow or a hang, and must leave
//! every published product byte for byte as it was.

use crate::check_fixtures::findings;
use crate::support::{Corpus, root, write_parquet};
use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

/// The base input: `id`, `kind`, `size` (with `size` as `size_type`, or left out).
fn events(size_type: Option<&DataType>, rows: i64, offset: i64) -> RecordBatch {
    let kinds = ["click", "view", "buy"];
    let mut fields = vec![
        Field::new("id", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, true),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(offset..offset + rows)),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| kinds[usize::try_from(i).expect("small") % 3]),
        )),
    ];
    match size_type {
        Some(DataType::Utf8) => {
            fields.push(Field::new("size", DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("{}", i * 7)),
            )));
        }
        Some(_) => {
            fields.push(Field::new("size", DataType::Int64, true));
            columns.push(Arc::new(Int64Array::from_iter_values(
                (0..rows).map(|i| i * 7),
            )));
        }
        None => {}
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("events")
}

fn rulec_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rulec"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run rulec")
}

/// Every file under `dir` with its bytes (the run lock aside).
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.file_name().is_some_and(|n| n != ".rulec.lock") {
                let rel = path.strip_prefix(base).expect("under base").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fresh directory for one case (under the system temporary directory, so that a run
/// as another user can reach it).
fn work_dir(suite: &str, case: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("rulec-{suite}-{}", std::process::id()))
        .join(case);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear");
    }
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Writes the large input a `generate` file asks for into the pack at `pack`.
fn generate(pack: &Path, spec: &str) {
    let mut words = spec.split_whitespace();
    let kind = words.next().expect("kind");
    let n: usize = words.next().expect("size").parse().expect("number");
    let sql = match kind {
        "deep_parens" => format!("SELECT {}1{} AS x\n", "(".repeat(n), ")".repeat(n)),
        "deep_subqueries" => format!(
            "{}SELECT 1 AS x{}\n",
            "SELECT * FROM (".repeat(n),
            ") AS s".repeat(n)
        ),
        "deep_not" => format!("SELECT {}true AS x\n", "NOT ".repeat(n)),
        "long_and" => {
            let conjuncts: Vec<String> = (0..n).map(|i| format!("size <> {i}")).collect();
            format!("SELECT id FROM events WHERE {}\n", conjuncts.join(" AND "))
        }
        "in_list" => {
            let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            format!(
                "SELECT id FROM events WHERE size IN ({})\n",
                items.join(", ")
            )
        }
        "wide_select" => {
            let columns: Vec<String> = (0..n).map(|i| format!("size + {i} AS c{i}")).collect();
            format!("SELECT {} FROM events\n", columns.join(", "))
        }
        "big_comment" => {
            let mut text = String::new();
            while text.len() < n {
                text.push_str("-- padding padding padding padding padding padding padding\n");
            }
            text.push_str("SELECT kind FROM events\n");
            text
        }
        "wide_contract" => {
            let mut contract = String::from("table: wide\ncolumns:\n");
            for i in 0..n {
                let _ = writeln!(contract, "  - {{name: c{i}, type: int64}}");
            }
            std::fs::write(pack.join("contracts/wide.yaml"), contract).expect("contract");
            let pack_yaml = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
            std::fs::write(
                pack.join("pack.yaml"),
                format!("{pack_yaml}  wide: data/wide.parquet\n"),
            )
            .expect("pack.yaml");
            let fields: Vec<Field> = (0..n)
                .map(|i| Field::new(format!("c{i}"), DataType::Int64, true))
                .collect();
            let columns: Vec<ArrayRef> = (0..n)
                .map(|i| {
                    Arc::new(Int64Array::from(vec![i64::try_from(i).expect("small")])) as ArrayRef
                })
                .collect();
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("wide");
            write_parquet(&pack.join("data/wide.parquet"), &batch);
            format!("SELECT c0, c{} FROM wide\n", n - 1)
        }
        other => panic!("unknown generator {other}"),
    };
    std::fs::write(pack.join("hostile.sql"), sql).expect("rule");
}

#[test]
fn hostile_rules_are_refused_and_change_nothing() {
    let corpus = Corpus::at("tests/fixtures/hostile");
    let cases = corpus.cases();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mut problems = Vec::new();
    for case in &cases {
        let work = work_dir("hostile", case);
        let pack = work.join("pack");
        corpus.base(&pack);
        std::fs::create_dir_all(pack.join("data")).expect("data");
        write_parquet(
            &pack.join("data/events.parquet"),
            &events(Some(&DataType::Int64), 30, 0),
        );
        let first = rulec_in(&work, &["run", "pack", "--out", "out"]);
        assert_eq!(
            first.status.code(),
            Some(0),
            "{case}: base run: {}",
            text(&first)
        );
        let published = contents(&work.join("out"));

        corpus.lay(case, &pack, &["expect", "generate"]);
        if let Ok(spec) = std::fs::read_to_string(corpus.file(case, "generate")) {
            generate(&pack, &spec);
        }
        let mut expected: Vec<String> = std::fs::read_to_string(corpus.file(case, "expect"))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        expected.sort();

        let check = rulec_in(&work, &["check", "pack", "--format", "json"]);
        let report: Value = match serde_json::from_slice(&check.stdout) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!(
                    "{case}: check gave no JSON ({e}): {}",
                    text(&check)
                ));
                continue;
            }
        };
        let found = findings(&report, "pack", &mut problems);
        if found != expected {
            problems.push(format!("{case}: expected {expected:?}, found {found:?}"));
        }
        let clean = expected.is_empty();
        if check.status.code() != Some(if clean { 0 } else { 1 }) {
            problems.push(format!("{case}: check exit {:?}", check.status.code()));
        }

        let second = rulec_in(&work, &["run", "pack", "--out", "out"]);
        let now = contents(&work.join("out"));
        if clean {
            if second.status.code() != Some(0) {
                problems.push(format!("{case}: run failed: {}", text(&second)));
            }
            if !work.join("out/hostile/_rulec/manifest.json").exists() {
                problems.push(format!("{case}: no product `hostile` published"));
            }
            for (file, bytes) in &published {
                if now.get(file) != Some(bytes) {
                    problems.push(format!("{case}: {} changed", file.display()));
                }
            }
        } else {
            if second.status.code() != Some(1) {
                problems.push(format!(
                    "{case}: run exit {:?}: {}",
                    second.status.code(),
                    text(&second)
                ));
            }
            if now != published {
                problems.push(format!("{case}: the output directory changed"));
            }
        }
        let _ = std::fs::remove_dir_all(&work);
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A tmpfs mounted for the life of the guard.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(Mount(at.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Makes `path` and everything under it reachable and writable by every user.
fn open_up(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if path.is_dir() { 0o777 } else { 0o666 };
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read").flatten() {
            open_up(&entry.path());
        }
    }
}

/// The byte range of a Parquet file's footer metadata.
fn footer_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let n = bytes.len();
    let length = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().expect("4 bytes"));
    let length = usize::try_from(length).expect("fits");
    n - 8 - length..n - 8
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "a case that cannot run here says so (the test output shows it)"
)]
fn broken_data_is_reported_and_changes_nothing() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    let corpus = Corpus::at("tests/fixtures/broken-data");
    let cases = corpus.cases();
    assert!(cases.len() >= 12, "the corpus has {} cases", cases.len());
    let mut problems = Vec::new();
    // Full-disk cases run with a file-size limit instead of a full tmpfs, and why.
    let mut full_disk_simulated: Vec<String> = Vec::new();
    for case in &cases {
        let expect: Value = serde_json::from_str(
            &std::fs::read_to_string(corpus.file(case, "expect.json")).expect("expect"),
        )
        .expect("expect.json");
        let breakage = expect["break"].as_str().expect("break");
        let code = expect["code"].as_str().expect("code");
        let mentions = expect["mentions"].as_str().expect("mentions");

        let work = work_dir("broken", case);
        let pack = work.join("pack");
        corpus.base(&pack);
        std::fs::create_dir_all(pack.join("data/batches")).expect("data");
        let int64 = DataType::Int64;
        write_parquet(
            &pack.join("data/events.parquet"),
            &events(Some(&int64), 2000, 0),
        );
        for part in 0..2 {
            write_parquet(
                &pack.join(format!("data/batches/part-{part}.parquet")),
                &events(Some(&int64), 500, part * 500),
            );
        }
        let out = work.join("out");
        std::fs::create_dir_all(&out).expect("out");
        // A full disk is a full 1 MiB tmpfs where this process may mount one; elsewhere a
        // file-size limit on the second run (`ulimit -f`, with SIGXFSZ ignored so that a
        // write past it fails with EFBIG instead of killing the process): either way every
        // file the run writes fails to grow.
        let _mount = if breakage == "full-disk" {
            match Mount::tmpfs(&out, "1m") {
                Ok(mount) => Some(mount),
                Err(why) => {
                    full_disk_simulated.push(format!("{case} ({why})"));
                    None
                }
            }
        } else {
            None
        };
        let first = rulec_in(&work, &["run", "pack", "--out", "out"]);
        assert_eq!(
            first.status.code(),
            Some(0),
            "{case}: base run: {}",
            text(&first)
        );
        let published = contents(&out);

        let mut words = breakage.split_whitespace();
        let verb = words.next().expect("verb");
        let target = words.next().map(|t| pack.join(t));
        let file = || target.clone().expect("a target");
        let mut command = Command::new(env!("CARGO_BIN_EXE_rulec"));
        let mut extra: Vec<&str> = Vec::new();
        match verb {
            "remove" => std::fs::remove_file(file()).expect("remove"),
            "empty" => std::fs::write(file(), b"").expect("empty"),
            "truncate" => {
                let bytes = std::fs::read(file()).expect("read");
                std::fs::write(file(), &bytes[..bytes.len() / 2]).expect("truncate");
            }
            "corrupt-footer" => {
                let mut bytes = std::fs::read(file()).expect("read");
                let footer = footer_range(&bytes);
                for b in &mut bytes[footer] {
                    *b = 0xFF;
                }
                std::fs::write(file(), bytes).expect("write");
            }
            "corrupt-pages" => {
                let mut bytes = std::fs::read(file()).expect("read");
                // The first half of the column chunks: the footer and the page indexes
                // after the row groups stay intact, so only reading the data finds it.
                let footer = footer_range(&bytes);
                for b in &mut bytes[4..footer.start / 2] {
                    *b = 0xA5;
                }
                std::fs::write(file(), bytes).expect("write");
            }
            "text" => std::fs::write(file(), "id,kind,size\n1,click,7\n").expect("write"),
            "retype" => write_parquet(&file(), &events(Some(&DataType::Utf8), 2000, 0)),
            "drop-column" => write_parquet(&file(), &events(None, 2000, 0)),
            "mixed" => write_parquet(
                &file().join("part-9.parquet"),
                &events(Some(&DataType::Utf8), 10, 9000),
            ),
            "directory" => {
                std::fs::remove_file(file()).expect("remove");
                std::fs::create_dir(file()).expect("mkdir");
            }
            "unreadable" => {
                std::fs::set_permissions(file(), std::fs::Permissions::from_mode(0o000))
                    .expect("chmod");
                if is_root() {
                    // Root reads anything: run as `nobody`, with a copy of the binary it
                    // can execute, in directories it can reach.
                    let binary = work.join("rulec");
                    std::fs::copy(env!("CARGO_BIN_EXE_rulec"), &binary).expect("copy");
                    open_up(&work);
                    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
                        .expect("chmod");
                    std::fs::set_permissions(file(), std::fs::Permissions::from_mode(0o000))
                        .expect("chmod");
                    let mut dir = work.clone();
                    while let Some(parent) = dir.parent() {
                        if parent == std::env::temp_dir() {
                            open_up_dir_only(parent.join(dir.file_name().expect("name")).as_path());
                            break;
                        }
                        dir = parent.to_path_buf();
                    }
                    command = Command::new(&binary);
                    command.uid(65534).gid(65534);
                }
            }
            "full-disk" => {
                if _mount.is_some() {
                    // Fill the filesystem, then ask for every product to be written again.
                    let mut filler = std::fs::File::create(out.join("filler")).expect("filler");
                    let block = vec![0u8; 64 << 10];
                    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
                } else {
                    command = with_file_size_limit();
                }
                extra.push("--force");
            }
            "file-size-limit" => {
                command = with_file_size_limit();
                extra.push("--force");
            }
            other => panic!("{case}: unknown breakage {other}"),
        }
        let second = command
            .args(["run", "pack", "--out", "out"])
            .args(&extra)
            .current_dir(&work)
            .output()
            .expect("run rulec");
        let report = text(&second);
        if second.status.code() != Some(1) {
            problems.push(format!(
                "{case}: exit {:?}, not 1: {report}",
                second.status.code()
            ));
        }
        if !report.contains(code) || !report.contains(mentions) {
            problems.push(format!(
                "{case}: expected {code} naming {mentions}: {report}"
            ));
        }
        let mut now = contents(&out);
        now.remove(Path::new("filler"));
        if now != published {
            let changed: Vec<String> = published
                .keys()
                .chain(now.keys())
                .filter(|f| published.get(*f) != now.get(*f))
                .map(|f| f.display().to_string())
                .collect();
            problems.push(format!("{case}: published files changed: {changed:?}"));
        }
        drop(_mount);
        let _ = std::fs::remove_dir_all(&work);
    }
    for case in &full_disk_simulated {
        eprintln!("{case}: no tmpfs here: the full disk is a file-size limit");
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `rulec`, run by a shell that lets no file grow past one block (512 or 1024 bytes, by
/// shell) and ignores SIGXFSZ, so that a write past the limit fails with EFBIG (as a write
/// to a full disk fails with ENOSPC) instead of killing the process.
fn with_file_size_limit() -> Command {
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "trap '' XFSZ; ulimit -f 1; exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_rulec"),
    ]);
    command
}

/// Makes one directory reachable by every user (not its contents).
fn open_up_dir_only(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
}

/// A change to one read relation of a Substrait plan (as JSON).
type ReadRewrite = dyn Fn(&mut serde_json::Map<String, Value>);

/// Rewrites every read relation of a Substrait plan (as JSON) with `rewrite`.
fn rewrite_reads(value: &mut Value, rewrite: &ReadRewrite) {
    match value {
        Value::Object(map) => {
            if map.contains_key("namedTable") && map.contains_key("baseSchema") {
                rewrite(map);
            }
            for child in map.values_mut() {
                rewrite_reads(child, rewrite);
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_reads(item, rewrite);
            }
        }
        _ => {}
    }
}

/// Substrait plans consumed by `run` read only declared tables, by name: a plan naming
/// another table, another catalog or a file path is refused, as are bytes that are not a
/// plan or nest past the decoder's limit.
#[test]
fn hostile_substrait_plans_are_refused() {
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    use rulec_substrait::substrait::proto::Plan;

    let pack_dir = root().join("tests/fixtures/hostile/_base");
    let (pack, compiled) = crate::support::compile(&pack_dir);
    let plan = compiled
        .rule("counts")
        .and_then(|r| r.plan.as_ref())
        .expect("counts compiles");
    let substrait = rulec_substrait::to_substrait(plan).expect("encodes");
    let json = serde_json::to_value(&substrait).expect("json");

    let ctx = SessionContext::new_with_state(rulec_exec::runtime_session());
    let schema = Arc::clone(&pack.contracts["events"].schema);
    ctx.register_table(
        "events",
        Arc::new(MemTable::try_new(schema, vec![vec![]]).expect("table")),
    )
    .expect("register");
    let state = ctx.state();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let consume = |plan: &Plan| runtime.block_on(rulec_substrait::from_substrait(&state, plan));

    // The plan as produced reads the declared input.
    consume(&substrait).expect("the declared input is readable");

    let cases: Vec<(&str, Box<ReadRewrite>, &str)> = vec![
        (
            "undeclared table",
            Box::new(|read| read["namedTable"] = serde_json::json!({"names": ["secret"]})),
            "not a declared input or product",
        ),
        (
            "other catalog",
            Box::new(|read| {
                read["namedTable"] = serde_json::json!({"names": ["other", "public", "events"]});
            }),
            "not a declared input or product",
        ),
        (
            "information schema",
            Box::new(|read| {
                read["namedTable"] =
                    serde_json::json!({"names": ["datafusion", "information_schema", "tables"]});
            }),
            "not a declared input or product",
        ),
        (
            "file by path",
            Box::new(|read| {
                read.remove("namedTable");
                read.insert(
                    "localFiles".to_owned(),
                    serde_json::json!({"items": [{"uriFile": "file:///etc/passwd", "parquet": {}}]}),
                );
            }),
            "reads files by path (`file:///etc/passwd`)",
        ),
        (
            "extension table",
            Box::new(|read| {
                read.remove("namedTable");
                read.insert("extensionTable".to_owned(), serde_json::json!({}));
            }),
            "reads an extension table",
        ),
    ];
    let mut problems = Vec::new();
    for (name, rewrite, expected) in &cases {
        let mut hostile = json.clone();
        rewrite_reads(&mut hostile, rewrite.as_ref());
        let hostile: Plan = serde_json::from_value(hostile).expect("still a plan");
        match consume(&hostile) {
            Ok(_) => problems.push(format!("{name}: consumed")),
            Err(e) if e.to_string().contains(expected) => {}
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");

    // Plans the fuzzer found to panic DataFusion's consumer: refused, not a crash.
    let regressions = root().join("fuzz/regressions/consume_substrait");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&regressions).expect("fuzz regressions") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        if let Ok(plan) = rulec_substrait::decode(&bytes) {
            assert!(consume(&plan).is_err(), "{} consumed", path.display());
        }
        replayed += 1;
    }
    assert!(replayed >= 2, "replayed {replayed} fuzz regressions");

    // Bytes that are not a plan, and a plan nested deeper than the decoder allows.
    assert!(rulec_substrait::decode(b"\xff\xff\xff\xff not protobuf").is_err());
    // Rel { filter: FilterRel { input: Rel { filter: ... } } }, 1000 levels, as the only
    // relation of a plan (Plan.relations = 3, PlanRel.rel = 1, Rel.filter = 2,
    // FilterRel.input = 2).
    let nested = |levels: usize| {
        let mut bytes = Vec::new();
        for _ in 0..levels {
            bytes = length_delimited(2, &length_delimited(2, &bytes));
        }
        length_delimited(3, &length_delimited(1, &bytes))
    };
    // The same shape ten levels deep is a well-formed plan (the encoding is right) ...
    assert!(rulec_substrait::decode(&nested(10)).is_ok());
    // ... and a thousand levels deep is refused, not a stack overflow.
    let bytes = nested(1000);
    assert!(
        rulec_substrait::decode(&bytes).is_err(),
        "deep nesting decodes"
    );
}

/// A protobuf length-delimited field: tag, varint length, bytes.
fn length_delimited(field: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(field << 3) | 2];
    let mut length = bytes.len();
    while length >= 0x80 {
        out.push(u8::try_from(length & 0x7f).expect("7 bits") | 0x80);
        length >>= 7;
    }
    out.push(u8::try_from(length).expect("7 bits"));
    out.extend_from_slice(bytes);
    out
}
