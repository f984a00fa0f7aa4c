//! `rulec run --engine ballista`: products computed on a Ballista cluster (here an
//! in-process scheduler with two executors on loopback, `--scheduler standalone`) are the
//! local run's products, and are reused across engines like any product.

use crate::support::{read_parquet, rulec, scratch, sorted_rows};
use std::collections::BTreeMap;
use std::path::Path;

/// Every product's rows, sorted, read from the files its manifest lists.
fn products(pack: &rulec_pack::Pack, out: &Path) -> BTreeMap<String, Vec<String>> {
    pack.rules
        .iter()
        .map(|rule| (rule.name.clone(), product_rows(out, &rule.name)))
        .collect()
}

/// One product's rows, sorted, read from the files its manifest lists.
fn product_rows(out: &Path, product: &str) -> Vec<String> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(product).join("_rulec/manifest.json")).expect("manifest"),
    )
    .expect("manifest json");
    let mut batches = Vec::new();
    for file in manifest["files"].as_array().expect("files") {
        let name = file["name"].as_str().expect("file name");
        batches.extend(read_parquet(&out.join(product).join(name)));
    }
    sorted_rows(&batches)
}

/// Asserts `got` has `expected`'s products with the same rows; says which differ, and how.
fn assert_same_products(
    got: &BTreeMap<String, Vec<String>>,
    expected: &BTreeMap<String, Vec<String>>,
) {
    let mut differences = Vec::new();
    for (name, rows) in expected {
        let theirs = got.get(name).map(Vec::as_slice).unwrap_or_default();
        if theirs != rows.as_slice() {
            let first = rows
                .iter()
                .zip(theirs)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("\n    local:   {a:.200}\n    cluster: {b:.200}"))
                .unwrap_or_default();
            differences.push(format!(
                "{name}: {} rows on the cluster, {} locally{first}",
                theirs.len(),
                rows.len()
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert_eq!(got.len(), expected.len());
}

fn run(pack: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        pack.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = rulec(&args);
    assert!(
        output.status.success(),
        "rulec {args:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("run report")
}

fn statuses(report: &serde_json::Value) -> Vec<String> {
    report["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const CLUSTER: &[&str] = &["--engine", "ballista", "--scheduler", "standalone"];

fn manifest(out: &Path, product: &str) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(out.join(product).join("_rulec/manifest.json")).expect("manifest"),
    )
    .expect("manifest json")
}

/// The names of a product's data files, without their directories.
fn data_file_names(out: &Path, product: &str) -> Vec<String> {
    manifest(out, product)["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let name = f["name"].as_str().expect("name");
            name.rsplit('/').next().unwrap_or(name).to_owned()
        })
        .collect()
}

/// The files below a product's directory that its manifest does not name (nor is it).
fn unnamed_files(out: &Path, product: &str) -> Vec<String> {
    let manifest = manifest(out, product);
    let named: Vec<&str> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .chain([&manifest["plan"]])
        .chain(manifest["errors"].get("file"))
        .filter_map(|f| f["name"].as_str())
        .chain(["_rulec/manifest.json"])
        .collect();
    let dir = out.join(product);
    let mut unnamed = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(&dir).expect("below").to_string_lossy();
            if !named.contains(&relative.as_ref()) {
                unnamed.push(relative.into_owned());
            }
        }
    }
    unnamed
}

/// The bundled CPG pack with [`crate::support::CPG_LAYOUTS`].
fn cpg_with_layouts(pack_dir: &Path) -> rulec_pack::Pack {
    crate::support::copy_cpg_with_layouts(pack_dir);
    crate::support::compile(pack_dir).0
}

#[test]
fn the_cpg_pack_on_a_standalone_cluster_gives_the_local_products() {
    let work = scratch("ballista-cpg");
    let pack_dir = work.join("cpg");
    let pack = cpg_with_layouts(&pack_dir);
    let local = work.join("local");
    let cluster = work.join("cluster");
    run(&pack_dir, &local, &[]);
    let report = run(&pack_dir, &cluster, CLUSTER);
    assert!(statuses(&report).iter().all(|s| s == "rebuilt"), "{report}");
    let expected = products(&pack, &local);
    assert!(expected.values().all(|rows| !rows.is_empty()));
    assert_same_products(&products(&pack, &cluster), &expected);
    // Sorted products, byte for byte, whatever computed them (partitioned ones per
    // partition, in as many files).
    for product in ["cpg_edges", "symtable_symbols"] {
        assert_eq!(manifest(&cluster, product)["order"]["tier"], "sorted");
        let hashes = crate::support::data_file_hashes(&cluster.join(product));
        assert_eq!(
            hashes,
            crate::support::data_file_hashes(&local.join(product)),
            "{product}"
        );
        assert!(hashes.len() > 1 || product == "cpg_edges", "{hashes:?}");
    }
    // The executors wrote the files: an executor's task names them with the version's nonce
    // and its own attempt's (`part-<version>-<attempt>-<n>`), rulec's writer with the
    // version's only.
    let dashes = |name: &str| name.matches('-').count();
    for rule in &pack.rules {
        for name in data_file_names(&local, &rule.name) {
            assert_eq!(dashes(&name), 4, "{name}");
        }
        for name in data_file_names(&cluster, &rule.name) {
            assert_eq!(dashes(&name), 7, "{name}");
        }
    }
    // Nothing but the published versions: no staging, no file a manifest does not name.
    assert!(!cluster.join(".rulec-staging").exists());
    for rule in &pack.rules {
        assert_eq!(unnamed_files(&cluster, &rule.name), Vec::<String>::new());
    }
    // The same build ids: what one engine built, the other reuses.
    let again = run(&pack_dir, &local, CLUSTER);
    assert!(statuses(&again).iter().all(|s| s == "reused"), "{again}");
}

/// Output contracts hold on a cluster as locally: the executors check the rows, a refused
/// row fails the product with the contract's code and nothing is published, and in tolerant
/// mode the executors write the refused rows' file.
#[test]
fn output_contracts_hold_on_a_standalone_cluster() {
    crate::output_contracts::output_contracts_hold("ballista-output-contracts", CLUSTER);
}

#[test]
fn tpch_on_a_standalone_cluster_gives_the_local_products() {
    let work = scratch("ballista-tpch");
    let pack_dir = work.join("tpch");
    let pack = crate::support::tpch_pack_with_data(&pack_dir);
    let local = work.join("local");
    let cluster = work.join("cluster");
    run(&pack_dir, &local, &[]);
    run(&pack_dir, &cluster, CLUSTER);
    let expected = products(&pack, &local);
    assert_eq!(expected.len(), 22);
    assert_same_products(&products(&pack, &cluster), &expected);
}

/// A child process, killed when the test ends however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], log: &Path) -> Child {
    Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_rulec"))
            .args(args)
            .stdout(std::fs::File::create(log.with_extension("out")).expect("log"))
            .stderr(std::fs::File::create(log.with_extension("err")).expect("log"))
            .spawn()
            .expect("spawn rulec"),
    )
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn wait_for_port(port: u16, what: &str) {
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} does not listen on {port}");
}

/// A scheduler and two executors in processes of their own (`rulec cluster`). The executor
/// writing `cpg_graph_by_file` (built in 16 slices into one file, so its file is open for a
/// while) is killed mid-write: the file it leaves has no Parquet footer. The run then ends
/// (it does not hang); the product is rebuilt by the other executor or fails; every product
/// reported built has the local run's rows and exactly the files its manifest names, whole
/// (size and SHA-256); `cpg_graph_by_file`, if built, names no file of the killed executor;
/// a failed product published nothing; nothing is left in staging.
#[test]
fn a_killed_executor_publishes_nothing_partial() {
    let work = scratch("ballista-kill");
    let pack_dir = work.join("cpg");
    crate::support::copy_cpg(&pack_dir);
    let (pack, _) = crate::support::compile(&pack_dir);
    let local = work.join("local");
    run(&pack_dir, &local, &[]);
    let expected = products(&pack, &local);

    let scheduler_port = free_port();
    let _scheduler = spawn(
        &[
            "cluster",
            "scheduler",
            "--bind",
            &format!("127.0.0.1:{scheduler_port}"),
            "--executor-timeout",
            "4",
        ],
        &work.join("scheduler"),
    );
    wait_for_port(scheduler_port, "the scheduler");
    let scheduler = format!("df://127.0.0.1:{scheduler_port}");
    let mut executors = Vec::new();
    for i in 0..2 {
        let (port, grpc) = (free_port(), free_port());
        let dir = work.join(format!("executor-{i}"));
        std::fs::create_dir_all(&dir).expect("work dir");
        executors.push((
            spawn(
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &scheduler,
                    "--port",
                    &port.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--work-dir",
                    dir.to_str().expect("utf-8"),
                    "--cores",
                    "1",
                ],
                &work.join(format!("executor-{i}.log")),
            ),
            dir,
        ));
        wait_for_port(port, "an executor");
    }

    // The cluster builds every product as a local run does.
    let out = work.join("cluster");
    let cluster = ["--engine", "ballista", "--scheduler", scheduler.as_str()];
    let report = run(&pack_dir, &out, &cluster);
    assert!(statuses(&report).iter().all(|s| s == "rebuilt"), "{report}");
    assert_same_products(&products(&pack, &out), &expected);

    // Again, from nothing, with the executor that writes `cpg_graph_by_file` killed while it
    // writes it. An executor's files carry its process id: `part-<version nonce>-<attempt
    // nonce>-<n>.parquet`, each nonce `<time>-<process>-<sequence>` (the
    // process id in hex).
    let out = work.join("killed");
    let mut running = spawn(
        &[
            "run",
            pack_dir.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--format",
            "json",
            "--engine",
            "ballista",
            "--scheduler",
            &scheduler,
            "--jobs",
            "1",
        ],
        &work.join("run.log"),
    );
    let writer_of =
        |name: &str| -> Option<u32> { u32::from_str_radix(name.split('-').nth(5)?, 16).ok() };
    let being_written = || -> Vec<std::path::PathBuf> {
        let staging = out.join(".rulec-staging");
        let versions = std::fs::read_dir(staging).into_iter().flatten().flatten();
        versions
            .filter(|v| {
                v.file_name()
                    .to_string_lossy()
                    .starts_with("cpg_graph_by_file-")
            })
            .flat_map(|v| std::fs::read_dir(v.path()).into_iter().flatten().flatten())
            .map(|f| f.path())
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .collect()
    };
    let started = std::time::Instant::now();
    let (victim_pid, partial) = loop {
        assert!(
            running.0.try_wait().expect("wait").is_none(),
            "the run ended before an executor wrote cpg_graph_by_file"
        );
        let file = being_written().into_iter().find_map(|f| {
            let pid = writer_of(&f.file_name()?.to_string_lossy())?;
            Some((pid, f))
        });
        if let Some((pid, file)) = file {
            let victim = executors
                .iter_mut()
                .find(|(child, _)| child.0.id() == pid)
                .expect("the file's writer is one of the executors");
            victim.0.0.kill().expect("kill the executor");
            victim.0.0.wait().expect("the executor ended");
            break (pid, std::fs::read(&file).expect("the file it was writing"));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "no executor wrote cpg_graph_by_file"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    // The kill landed mid-write: the file has no footer yet.
    assert!(
        !partial.ends_with(b"PAR1"),
        "the executor had finished its file ({} bytes) when it was killed",
        partial.len()
    );
    let status = loop {
        if let Some(status) = running.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(600),
            "the run hung after an executor was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("run.out")).expect("the run's report"),
    )
    .expect("json report");
    let stderr = std::fs::read_to_string(work.join("run.err")).unwrap_or_default();
    let mut built = 0;
    for product in report["products"].as_array().expect("products") {
        let name = product["name"].as_str().expect("name");
        match product["status"].as_str().expect("status") {
            "rebuilt" => {
                built += 1;
                assert_eq!(product_rows(&out, name), expected[name], "{name}");
                assert_eq!(unnamed_files(&out, name), Vec::<String>::new(), "{name}");
                crate::support::assert_files_whole(&out.join(name));
                // Written again by the executor that was not killed (products before it
                // were written by either).
                if name == "cpg_graph_by_file" {
                    for file in data_file_names(&out, name) {
                        assert_ne!(writer_of(&file), Some(victim_pid), "{name}: {file}");
                    }
                }
            }
            "failed" | "skipped" => {
                assert!(!out.join(name).exists(), "{name} failed but was published");
            }
            other => panic!("{name}: {other}"),
        }
    }
    let staging = out.join(".rulec-staging");
    assert!(
        std::fs::read_dir(&staging).map_or(true, |mut d| d.next().is_none()),
        "staging left behind"
    );
    // The run says what it did: success exactly when every product was built.
    assert_eq!(
        status.success(),
        built == pack.rules.len(),
        "{report}\n{stderr}"
    );
}
