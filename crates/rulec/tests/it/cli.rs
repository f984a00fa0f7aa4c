//! The `rulec` binary: formats, exit codes and the DESIGN §6 JSON shape.

use crate::support::{root, rulec, scratch};
use serde_json::Value;

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn cpg_checks_clean_with_stable_fingerprints() {
    let first = rulec(&["check", "rules/cpg", "--format", "json"]);
    assert!(first.status.success());
    let report = json(&first);
    assert_eq!(report["pack"], "cpg");
    assert_eq!(report["diagnostics"], Value::Array(vec![]));
    let rules = report["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 9);
    for rule in rules {
        let fp = rule["fingerprint"].as_str().expect("fingerprint");
        assert!(fp.starts_with("sha256:") && fp.len() == 71, "{rule}");
        assert!(
            rule["schema_fingerprint"]
                .as_str()
                .is_some_and(|s| s.starts_with("sha256:"))
        );
        assert_eq!(rule["diagnostics"], Value::Array(vec![]), "{rule}");
        assert!(!rule["output_schema"].as_array().expect("schema").is_empty());
        assert!(rule["path"].as_str().expect("path").ends_with(".sql"));
    }
    // A second process computes the same report, byte for byte.
    let second = rulec(&["check", "rules/cpg", "--format", "json"]);
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn non_query_statements_are_rejected_with_spans() {
    let output = rulec(&["check", "tests/packs/forbidden", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(
        findings(&report),
        expect(&[
            ("S002", "copy.sql", 2, 1),
            ("S002", "ddl.sql", 2, 1),
            ("S002", "dml.sql", 2, 1),
            ("S002", "explain.sql", 1, 1),
            ("S005", "read_path.sql", 2, 15),
            ("S002", "set.sql", 1, 1),
            ("S003", "two.sql", 3, 1),
        ])
    );
    // The valid rule next to them still compiles.
    let fine = report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == "fine")
        .expect("fine");
    assert!(fine["fingerprint"].as_str().is_some());
}

#[test]
fn plan_shows_sql_plan_and_substrait_with_the_unnest_extension() {
    let output = rulec(&["plan", "rules/cpg", "libcst_nodes"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for section in [
        "--- canonical SQL",
        "--- optimized logical plan",
        "--- substrait",
        "rulec.dev/extension/Unnest",
    ] {
        assert!(text.contains(section), "missing {section}:\n{text}");
    }
    let bridge = rulec(&[
        "plan",
        "rules/cpg",
        "cpg_bridge_cst_scip",
        "--format",
        "json",
    ]);
    assert!(bridge.status.success());
    let report = json(&bridge);
    assert!(report["rules"][0]["substrait"]["relations"].is_array());
    assert!(
        report["rules"][0]["logical_plan"]
            .as_str()
            .expect("plan")
            .contains("Inner Join")
    );

    let file = scratch("plan_binary").join("libcst_nodes.substrait");
    let binary = rulec(&[
        "plan",
        "rules/cpg",
        "libcst_nodes",
        "--format",
        "binary",
        "--output",
        file.to_str().expect("utf8"),
    ]);
    assert!(
        binary.status.success(),
        "{}",
        String::from_utf8_lossy(&binary.stderr)
    );
    let plan =
        rulec_substrait::decode(&std::fs::read(&file).expect("written")).expect("a Substrait plan");
    assert!(rulec_substrait::plan_to_text(&plan).contains("rulec.dev/extension/Unnest"));
}

#[test]
fn usage_errors_exit_2_and_codes_explain_themselves() {
    assert_eq!(
        rulec(&["plan", "rules/cpg", "no_such_rule"]).status.code(),
        Some(2)
    );
    assert_eq!(rulec(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(rulec(&["check", "no/such/dir"]).status.code(), Some(2));
    let explained = rulec(&["check", "--explain", "S002"]);
    assert!(explained.status.success());
    assert!(String::from_utf8_lossy(&explained.stdout).starts_with("S002 forbidden-statement"));
    assert!(root().join("rules/cpg/pack.yaml").is_file());
}

#[test]
fn plans_that_cannot_be_encoded_faithfully_are_errors() {
    let output = rulec(&["check", "tests/packs/unencodable", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    let rule = |name: &str| {
        report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let ignore_nulls = &rule("ignore_nulls")["diagnostics"][0];
    assert_eq!(ignore_nulls["code"], "E001");
    assert_eq!(
        (
            ignore_nulls["line"].as_u64(),
            ignore_nulls["column"].as_u64()
        ),
        (Some(2), Some(30))
    );
    assert!(
        ignore_nulls["message"]
            .as_str()
            .expect("message")
            .contains("IGNORE NULLS")
    );
    assert_eq!(rule("distinct_window")["diagnostics"][0]["code"], "E001");
    assert_eq!(rule("fine")["diagnostics"], Value::Array(vec![]));
    // Its schema is known, so a rule reading it is still checked (and clean).
    assert_eq!(rule("downstream")["diagnostics"], Value::Array(vec![]));
}

/// (code, file name, line, column) of every diagnostic in a `check --format json` report.
fn findings(report: &Value) -> Vec<(String, String, u64, u64)> {
    let mut all: Vec<&Value> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .collect();
    for rule in report["rules"].as_array().expect("rules") {
        all.extend(rule["diagnostics"].as_array().expect("diagnostics"));
    }
    let mut out: Vec<_> = all
        .into_iter()
        .map(|d| {
            let file = d["file"].as_str().expect("file");
            (
                d["code"].as_str().expect("code").to_owned(),
                file.rsplit('/').next().expect("name").to_owned(),
                d["line"].as_u64().expect("line"),
                d["column"].as_u64().expect("column"),
            )
        })
        .collect();
    out.sort();
    out
}

fn expect(rows: &[(&str, &str, u64, u64)]) -> Vec<(String, String, u64, u64)> {
    let mut v: Vec<_> = rows
        .iter()
        .map(|(c, f, l, col)| ((*c).to_owned(), (*f).to_owned(), *l, *col))
        .collect();
    v.sort();
    v
}

#[test]
fn lints_warn_and_pack_yaml_can_deny_them() {
    let output = rulec(&["check", "tests/packs/lints", "--format", "json"]);
    // `unused-cte: deny` in pack.yaml makes that lint an error.
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(
        findings(&report),
        expect(&[
            ("O101", "starred.sql", 1, 8),
            ("P101", "unused.yaml", 1, 1),
            ("S101", "null_compare.sql", 3, 7),
            ("S101", "null_compare.sql", 3, 22),
            ("S102", "unused_cte.sql", 2, 6),
            ("S103", "ordered.sql", 2, 33),
        ])
    );
    let severities: Vec<&str> = report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .flat_map(|r| r["diagnostics"].as_array().expect("d").iter())
        .filter(|d| d["code"] == "S102")
        .map(|d| d["severity"].as_str().expect("severity"))
        .collect();
    assert_eq!(severities, ["error"]);
}

#[test]
fn output_contract_differences_are_each_reported() {
    let output = rulec(&["check", "tests/packs/output_contract", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        findings(&json(&output)),
        expect(&[
            ("O001", "product.sql", 1, 1),
            ("O002", "product.sql", 5, 3),
            ("O003", "product.sql", 4, 3),
            ("O004", "product.sql", 2, 3),
        ])
    );
}

#[test]
fn a_bad_lint_configuration_is_an_error() {
    let pack = crate::support::scratch("bad_lints");
    std::fs::create_dir_all(pack.join("contracts")).expect("mkdir");
    std::fs::write(
        pack.join("pack.yaml"),
        "name: x\nlints:\n  no-such-lint: deny\n  S101: loud\n  Q001: allow\n",
    )
    .expect("write");
    std::fs::write(
        pack.join("contracts/t.yaml"),
        "table: t\ncolumns:\n  - {name: id, type: int64}\n",
    )
    .expect("write");
    std::fs::write(pack.join("a.sql"), "SELECT id FROM t\n").expect("write");
    let output = rulec(&["check", pack.to_str().expect("utf8"), "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        findings(&json(&output)),
        expect(&[
            ("P007", "pack.yaml", 3, 3),
            ("P007", "pack.yaml", 4, 3),
            ("P007", "pack.yaml", 5, 3)
        ])
    );
}

#[test]
fn files_check_the_packs_they_belong_to() {
    // As pre-commit passes them: files of two packs and a file in no pack.
    let output = rulec(&[
        "check",
        "rules/cpg/cpg_nodes.sql",
        "rules/cpg/contracts/libcst_files.yaml",
        "tests/packs/output_contract/product.sql",
        "README.md",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reports: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one report per line"))
        .collect();
    let packs: Vec<&str> = reports
        .iter()
        .map(|r| r["pack"].as_str().expect("pack"))
        .collect();
    assert_eq!(packs, ["cpg", "output_contract"]);

    // One pack named twice is checked once.
    let twice = rulec(&[
        "check",
        "rules/cpg",
        "rules/cpg/",
        "rules/cpg/cpg_nodes.sql",
        "--format",
        "json",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&twice.stdout)
            .matches("\"pack\": \"cpg\"")
            .count(),
        1
    );

    // Only files outside any pack: nothing to do, success.
    let outside = rulec(&["check", "README.md", "Cargo.toml"]);
    assert_eq!(outside.status.code(), Some(0));
    assert!(outside.stdout.is_empty() && outside.stderr.is_empty());

    // A clean pack: quiet but for one summary line.
    let clean = rulec(&["check", "rules/cpg/libcst_nodes.sql"]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(clean.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&clean.stderr).lines().count(), 1);
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/schemas/sarif-schema-2.1.0.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::draft7::new(&schema).expect("a valid schema");
    for pack in [
        "tests/packs/forbidden",
        "tests/packs/lints",
        "tests/packs/output_contract",
        "rules/cpg",
    ] {
        let output = rulec(&["check", pack, "--format", "sarif"]);
        let log = json(&output);
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{pack}: {errors:#?}");
        // The validator does reject what is not SARIF 2.1.0.
        let mut broken = log.clone();
        broken["version"] = Value::from("2.0.0");
        broken["runs"][0]["columnKind"] = Value::from("bytes");
        assert!(
            validator.iter_errors(&broken).next().is_some(),
            "{pack}: a broken log validated"
        );
        let results = log["runs"][0]["results"].as_array().expect("results");
        assert_eq!(
            output.status.code(),
            Some(if pack == "rules/cpg" { 0 } else { 1 })
        );
        if pack == "tests/packs/forbidden" {
            assert_eq!(results.len(), 7);
            let first = &results[0];
            assert_eq!(first["ruleId"], "S002");
            assert_eq!(
                first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                "tests/packs/forbidden/copy.sql"
            );
            assert_eq!(
                first["locations"][0]["physicalLocation"]["region"]["startLine"],
                2
            );
            let rules = log["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .expect("rules");
            let index =
                usize::try_from(first["ruleIndex"].as_u64().expect("index")).expect("usize");
            assert_eq!(rules[index]["id"], "S002");
            assert!(
                rules[index]["help"]["text"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            );
        }
    }
}

#[test]
fn plan_shows_the_pipeline_pass_by_pass() {
    let output = rulec(&[
        "plan",
        "rules/cpg",
        "cpg_bridge_cst_scip",
        "--show",
        "passes",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("pipeline rulec-canonical v3"), "{text}");
    // The pipeline is printed whole: rulec's own rule and its CNF guard among the rest.
    assert!(
        text.contains("\npass optimizer/rulec_canonicalize\n"),
        "{text}"
    );
    assert!(
        text.contains("\noption rulec.cnf_max_clauses=16\n"),
        "{text}"
    );
    // The filter on the node kind is pushed below the join: a reviewer sees it here.
    let push_down = text
        .split("\noptimizer/push_down_filter: changed\n")
        .nth(1)
        .expect("push_down_filter changed the plan");
    let push_down = push_down.split("\n\n").next().unwrap_or_default();
    assert!(
        push_down.contains("+       Filter: libcst_nodes.kind"),
        "{push_down}"
    );
    let unchanged = text
        .lines()
        .find(|l| l.starts_with("unchanged: "))
        .expect("unchanged line");
    assert!(
        unchanged.contains("optimizer/eliminate_limit"),
        "{unchanged}"
    );
}

/// `--engine` and `--scheduler` (or pack.yaml `run.engine` / `run.scheduler`): a wrong
/// combination is a usage error before anything runs; without the `ballista` feature a
/// Ballista run is `R011` and builds nothing.
#[test]
fn engine_flags_are_checked_before_anything_runs() {
    let work = scratch("engine-flags");
    let pack = work.join("cpg");
    crate::support::copy_cpg(&pack);
    let out = work.join("out");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", pack.to_str().expect("utf-8"), "--out"];
        args.push(out.to_str().expect("utf-8"));
        args.extend_from_slice(extra);
        rulec(&args)
    };
    for (extra, says) in [
        (&["--engine", "ballista"][..], "needs --scheduler"),
        (&["--engine", "spark"][..], "unknown engine `spark`"),
        (&["--scheduler", "df://h:50050"][..], "the engine is local"),
    ] {
        let output = run(extra);
        assert_eq!(output.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
        assert!(!out.join("libcst_nodes").exists());
    }
    // A flag wins over pack.yaml: `--engine local` ignores the scheduler the pack names.
    let manifest = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack.join("pack.yaml"),
        format!("{manifest}run:\n  engine: ballista\n  scheduler: df://nowhere:1\n"),
    )
    .expect("pack.yaml");
    let output = run(&["--engine", "local", "--only", "libcst_nodes"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.join("libcst_nodes").exists());
    std::fs::remove_dir_all(&out).expect("clear out");
    std::fs::write(pack.join("pack.yaml"), &manifest).expect("pack.yaml");
    if cfg!(not(feature = "ballista")) {
        let output = run(&["--engine", "ballista", "--scheduler", "standalone"]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("R011"), "{stderr}");
        assert!(stderr.contains("--features ballista"), "{stderr}");
        assert!(!out.join("libcst_nodes").exists());
    }
}

/// Storage URLs: a scheme rulec does not write is a usage error; without the `s3` feature
/// an `s3://` output or input is `R012` naming the feature, and nothing is built.
#[test]
fn storage_urls_rulec_cannot_use_are_refused() {
    let work = scratch("storage-urls");
    let pack = work.join("cpg");
    crate::support::copy_cpg(&pack);
    let run = |out: &str| rulec(&["run", pack.to_str().expect("utf-8"), "--out", out]);
    let output = run("gs://bucket/products");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`gs://` is not a storage"), "{stderr}");

    let manifest = std::fs::read_to_string(pack.join("pack.yaml")).expect("pack.yaml");
    std::fs::write(
        pack.join("pack.yaml"),
        manifest.replace("data/scip_symbols.parquet", "hdfs://cluster/scip_symbols"),
    )
    .expect("pack.yaml");
    let out = work.join("out");
    let output = run(out.to_str().expect("utf-8"));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("R012") && stderr.contains("`hdfs://` is not a storage"),
        "{stderr}"
    );
    assert!(!out.join("libcst_nodes").exists());

    if cfg!(not(feature = "s3")) {
        let output = run("s3://bucket/products");
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("R012") && stderr.contains("--features s3"),
            "{stderr}"
        );
        std::fs::write(
            pack.join("pack.yaml"),
            manifest.replace("data/scip_symbols.parquet", "s3://bucket/scip_symbols"),
        )
        .expect("pack.yaml");
        let output = run(out.to_str().expect("utf-8"));
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("R012") && stderr.contains("--features s3"),
            "{stderr}"
        );
        assert!(!out.join("libcst_nodes").exists());
    }
}
