//! `rulec diff`: the fixture corpus under `tests/fixtures/diff/` (every category, asserted
//! through `expect.json` and pinned as snapshots), and `--git` on a small repository.

use crate::support::{Corpus, copy_tree, root, scratch};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn diff_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rulec"))
        .arg("diff")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run rulec diff")
}

/// Lays out a case: `old/` is `_base` with the case's `old/` files over it, `new/` is
/// `_base` with the case's `new/` files over it and its `remove` list deleted.
fn lay_out(corpus: &Corpus, case: &str, work: &Path) {
    corpus.base(&work.join("old"));
    corpus.base(&work.join("new"));
    for side in ["old", "new"] {
        if corpus.file(case, side).is_dir() {
            corpus.lay(&format!("{case}/{side}"), &work.join(side), &[]);
        }
    }
    if let Ok(list) = std::fs::read_to_string(corpus.file(case, "remove")) {
        for file in list.lines().filter(|l| !l.trim().is_empty()) {
            std::fs::remove_file(work.join("new").join(file.trim())).expect("remove");
        }
    }
}

/// Whether `actual` holds everything `expected` lists (objects: listed keys; arrays and
/// values: equal).
fn holds(actual: &Value, expected: &Value, at: &str, problems: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, want) in e {
                match a.get(key) {
                    Some(got) => holds(got, want, &format!("{at}.{key}"), problems),
                    None => problems.push(format!("{at}.{key}: missing, expected {want}")),
                }
            }
        }
        (got, want) if got == want => {}
        (got, want) => problems.push(format!("{at}: got {got}, expected {want}")),
    }
}

/// The rules (or contracts) of a report as an object keyed by name.
fn by_name(list: &Value) -> Value {
    Value::Object(
        list.as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                (
                    item["name"].as_str().unwrap_or("?").to_owned(),
                    item.clone(),
                )
            })
            .collect(),
    )
}

#[test]
fn diff_fixture_corpus() {
    let corpus = Corpus::at("tests/fixtures/diff");
    let cases = corpus.cases();
    assert!(cases.len() >= 10, "the corpus lost cases: {cases:?}");
    let mut problems = Vec::new();
    let mut rendered = Vec::new();
    for case in &cases {
        let work = scratch(&format!("diff-{case}"));
        lay_out(&corpus, case, &work);
        let expect: Value = serde_json::from_str(
            &std::fs::read_to_string(corpus.file(case, "expect.json")).expect("expect.json"),
        )
        .unwrap_or_else(|e| panic!("{case}/expect.json: {e}"));

        let json = diff_in(&work, &["old", "new", "--format", "json"]);
        let report: Value = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
            panic!(
                "{case}: not JSON ({e}): {}{}",
                String::from_utf8_lossy(&json.stdout),
                String::from_utf8_lossy(&json.stderr)
            )
        });
        let code = json.status.code();
        if code != expect["exit"].as_i64().map(|c| c as i32) {
            problems.push(format!(
                "{case}: exit {code:?}, expected {}",
                expect["exit"]
            ));
        }
        // `changed` is what exits 1; errors exit 2 whatever changed.
        if code != Some(2) && report["changed"].as_bool() != Some(code == Some(1)) {
            problems.push(format!("{case}: `changed` disagrees with exit {code:?}"));
        }
        holds(
            &by_name(&report["rules"]),
            &expect["rules"],
            &format!("{case}: rules"),
            &mut problems,
        );
        holds(
            &by_name(&report["contracts"]),
            expect
                .get("contracts")
                .unwrap_or(&Value::Object(Default::default())),
            &format!("{case}: contracts"),
            &mut problems,
        );
        let human = diff_in(&work, &["old", "new"]);
        assert_eq!(
            human.status.code(),
            code,
            "{case}: human and JSON exit codes differ"
        );
        rendered.push((
            case.clone(),
            String::from_utf8_lossy(&human.stdout).into_owned(),
            serde_json::to_string_pretty(&report).expect("json"),
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for (case, human, json) in rendered {
        insta::with_settings!({
            snapshot_path => root().join("snapshots/fixtures/diff"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(case.clone(), human);
            insta::assert_snapshot!(format!("{case}.json"), json);
        });
    }
}

#[test]
fn the_same_pack_twice_is_no_change() {
    let pack = root().join("rules/cpg");
    let out = diff_in(
        &root(),
        &[
            pack.to_str().expect("utf8"),
            pack.to_str().expect("utf8"),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["changed"], false);
    let rules = report["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 9);
    assert!(
        rules
            .iter()
            .all(|r| r["status"] == "unchanged" && r.get("impact").is_none())
    );
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=rulec",
            "-c",
            "user.email=rulec@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(repo)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn diff_reads_revisions_from_git_objects() {
    let corpus = Corpus::at("tests/fixtures/diff");
    let repo = scratch("diff-git");
    git(&repo, &["init", "-q", "-b", "main"]);
    corpus.base(&repo.join("packs/shop"));
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "v1"]);
    corpus.lay("downstream_partial/new", &repo.join("packs/shop"), &[]);
    git(
        &repo,
        &["commit", "-q", "-a", "-m", "v2: sizes in kilobytes"],
    );

    // Two revisions; the work tree is then changed so that only git objects can give v1/v2.
    std::fs::write(
        repo.join("packs/shop/event_counts.sql"),
        "SELECT user_id, count(*) AS n FROM clean_events WHERE user_id > 0 GROUP BY user_id\n",
    )
    .expect("edit");
    let out = diff_in(
        &repo,
        &["--git", "main~1..main", "packs/shop", "--format", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules = by_name(&report["rules"]);
    assert_eq!(report["old"], "main~1:packs/shop");
    assert_eq!(
        rules["clean_events"]["columns"]["changed"],
        serde_json::json!(["size"])
    );
    assert_eq!(
        rules["event_counts"]["status"], "unchanged",
        "the work-tree edit must not leak in"
    );
    assert_eq!(rules["event_counts"]["impact"], "not_affected");
    assert_eq!(rules["event_sizes"]["impact"], "affected");

    // One revision: against the work tree, from a subdirectory of the repository.
    let out = diff_in(
        &repo.join("packs"),
        &["--git", "main", "shop", "--format", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules = by_name(&report["rules"]);
    assert_eq!(rules["event_counts"]["status"], "changed");
    assert_eq!(rules["clean_events"]["status"], "unchanged");

    // A cosmetic edit only: exit 0.
    std::fs::write(
        repo.join("packs/shop/event_counts.sql"),
        "select user_id,\n       COUNT(*) as n\n  from clean_events\n group by user_id\n",
    )
    .expect("edit");
    let out = diff_in(&repo, &["--git", "main", "packs/shop"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cosmetic   event_counts"));

    // Mistakes are errors (exit 2) with a message, not panics.
    for (args, message) in [
        (vec!["--git", "nope..main", "packs/shop"], "is not a commit"),
        (
            vec!["--git", "main~1..main", "packs/missing"],
            "holds no pack",
        ),
        (vec!["only-one-dir"], "name two pack directories"),
    ] {
        let out = diff_in(&repo, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// A nested rule of `tests/packs/nested` rewritten two ways: an alias rename, reformat and
/// lateral unnest (cosmetic, exit 0), then a changed struct path (breaking, exit 1, the
/// column named).
#[test]
fn nested_rules_diff_cosmetic_and_breaking() {
    let work = scratch("diff_nested");
    let pack = root().join("tests/packs/nested");
    copy_tree(&pack, &work.join("old"), &["out"]);
    // The inputs are read relative to the pack: point them at the bundled data.
    let data = root().join("rules/cpg/data");
    for side in ["old", "new"] {
        if side == "new" {
            copy_tree(&work.join("old"), &work.join("new"), &[]);
        }
        let manifest = work.join(side).join("pack.yaml");
        let text = std::fs::read_to_string(&manifest).expect("pack.yaml");
        let text = text.replace("../../../rules/cpg/data", data.to_str().expect("utf8"));
        std::fs::write(&manifest, text).expect("write pack.yaml");
    }
    let rule = work.join("new/node_rows.sql");
    let cosmetic = "select n.file_id, n.path, u.node.cst_id as cst_id, u.node['kind'] as kind,\n\
        get_field(get_field(u.node, 'span'), 'start')['line0'] as start_line0, u.node.span.start.col as start_col,\n\
        u.node.span.\"end\".line0 as end_line0, u.node.span.\"end\".col as end_col,\n\
        u.node.attrs['value'] as value\n\
        from libcst_files as n cross join unnest(n.nodes) as u(node)\n";
    std::fs::write(&rule, cosmetic).expect("write rule");
    let out = diff_in(&work, &["old", "new", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(by_name(&report["rules"])["node_rows"]["status"], "cosmetic");

    let breaking = cosmetic.replace(
        "u.node.span.start.col as start_col",
        "u.node.span.\"end\".col as start_col",
    );
    std::fs::write(&rule, breaking).expect("write rule");
    let out = diff_in(&work, &["old", "new", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let node_rows = &by_name(&report["rules"])["node_rows"];
    assert_eq!(node_rows["category"], "breaking", "{node_rows:#}");
    assert_eq!(
        node_rows["columns"]["changed"],
        serde_json::json!(["start_col"]),
        "{node_rows:#}"
    );
}
