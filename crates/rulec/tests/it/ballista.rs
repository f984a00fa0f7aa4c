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

#[test]
fn the_cpg_pack_on_a_standalone_cluster_gives_the_local_products() {
    let work = scratch("ballista-cpg");
    let pack_dir = work.join("cpg");
    crate::support::copy_cpg(&pack_dir);
    let (pack, _) = crate::support::compile(&pack_dir);
    let local = work.join("local");
    let cluster = work.join("cluster");
    run(&pack_dir, &local, &[]);
    let report = run(&pack_dir, &cluster, CLUSTER);
    assert!(statuses(&report).iter().all(|s| s == "rebuilt"), "{report}");
    let expected = products(&pack, &local);
    assert!(expected.values().all(|rows| !rows.is_empty()));
    assert_same_products(&products(&pack, &cluster), &expected);
    // The same build ids: what one engine built, the other reuses.
    let again = run(&pack_dir, &local, CLUSTER);
    assert!(statuses(&again).iter().all(|s| s == "reused"), "{again}");
}

#[test]
fn tpch_on_a_standalone_cluster_gives_the_local_products() {
    let work = scratch("ballista-tpch");
    let pack_dir = work.join("tpch");
    crate::support::copy_tree(
        &crate::support::root().join("rules/tpch"),
        &pack_dir,
        &["out"],
    );
    let (pack, _) = crate::support::compile(&pack_dir);
    std::fs::create_dir_all(pack_dir.join("data")).expect("data");
    let mut manifest = std::fs::read_to_string(pack_dir.join("pack.yaml")).expect("pack.yaml");
    manifest.push_str("inputs:\n");
    for (table, batches) in crate::execute::tpch_batches(&pack) {
        let file = pack_dir.join("data").join(format!("{table}.parquet"));
        let schema = batches[0].schema();
        let out = std::fs::File::create(&file).expect("create");
        let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema, None).expect("writer");
        for batch in &batches {
            writer.write(batch).expect("write");
        }
        writer.close().expect("close");
        manifest.push_str(&format!("  {table}: data/{table}.parquet\n"));
    }
    std::fs::write(pack_dir.join("pack.yaml"), manifest).expect("pack.yaml");
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

/// A scheduler and two executors in processes of their own (`rulec cluster`); one executor
/// is killed once it holds data of a product being computed (the run still going). The
/// run then ends (it does not hang), every product it reports built has the local run's
/// rows, and a product that failed published nothing: no directory, nothing left in
/// staging.
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

    // Again, from nothing, with an executor killed on the way: once it holds data of a job
    // (a directory per job) of this run.
    let jobs = |dir: &Path| -> std::collections::BTreeSet<std::ffi::OsString> {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| Some(e.ok()?.file_name())).collect())
            .unwrap_or_default()
    };
    let earlier = jobs(&executors[0].1);
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
    let (victim, victim_dir) = &mut executors[0];
    let started = std::time::Instant::now();
    let landed = loop {
        if running.0.try_wait().expect("wait").is_some() {
            break false;
        }
        if !jobs(victim_dir).is_subset(&earlier) {
            victim.0.kill().expect("kill the executor");
            break true;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "the executor never received work"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(
        landed,
        "the run ended before the executor held any of its data"
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
