//! The `rulec check` fixture corpus: `tests/fixtures/check/<case>/`, each laid over
//! `tests/fixtures/check/_base/`. Every case's findings must be exactly its `expect` file
//! (code, file, line, column), every finding must name a file and a position, nothing may
//! panic, and the human rendering is pinned in `snapshots/fixtures/check/<case>.snap`.

use crate::support::{Corpus, root};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn check(cwd: &Path, case: &str, json: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rulec"));
    command.arg("check").arg(case).current_dir(cwd);
    if json {
        command.args(["--format", "json"]);
    }
    command.output().expect("run rulec")
}

/// Every finding of a `--format json` report as `CODE file:line:column`, sorted; files
/// lose their `case/` prefix. A finding without a file or position is a problem.
pub(crate) fn findings(report: &Value, case: &str, problems: &mut Vec<String>) -> Vec<String> {
    let mut all: Vec<&Value> = report["diagnostics"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for rule in report["rules"].as_array().into_iter().flatten() {
        all.extend(rule["diagnostics"].as_array().into_iter().flatten());
    }
    let mut out = Vec::new();
    for d in all {
        let code = d["code"].as_str().unwrap_or("?");
        let (Some(file), Some(line), Some(column)) =
            (d["file"].as_str(), d["line"].as_u64(), d["column"].as_u64())
        else {
            problems.push(format!("{case}: {code} has no file or position: {d}"));
            continue;
        };
        let file = file.strip_prefix(&format!("{case}/")).unwrap_or(file);
        out.push(format!("{code} {file}:{line}:{column}"));
    }
    out.sort();
    out
}

#[test]
fn check_fixture_corpus() {
    let corpus = Corpus::at("tests/fixtures/check");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check_fixtures");
    if work.exists() {
        std::fs::remove_dir_all(&work).expect("clear");
    }
    let cases = corpus.cases();
    assert!(cases.len() >= 50, "the corpus has {} cases", cases.len());

    let mut problems = Vec::new();
    let mut rendered = Vec::new();
    for case in &cases {
        let dir = work.join(case);
        std::fs::create_dir_all(&dir).expect("mkdir");
        corpus.base(&dir);
        corpus.lay(case, &dir, &["expect"]);
        let expect_text = std::fs::read_to_string(corpus.file(case, "expect")).unwrap_or_default();
        let mut expected: Vec<String> = expect_text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        expected.sort();

        let output = check(&work, case, true);
        let code = output.status.code();
        let report: Value = match serde_json::from_slice(&output.stdout) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!(
                    "{case}: exit {code:?}, no JSON report ({e}): {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
                continue;
            }
        };
        let found = findings(&report, case, &mut problems);
        if found != expected {
            problems.push(format!(
                "{case}:\n  expected {expected:?}\n  found    {found:?}"
            ));
        }
        let has_error = report.to_string().contains("\"severity\":\"error\"");
        if code != Some(if has_error { 1 } else { 0 }) {
            problems.push(format!("{case}: exit {code:?} with errors={has_error}"));
        }
        let human = check(&work, case, false);
        rendered.push((
            case.clone(),
            String::from_utf8_lossy(&human.stdout).into_owned(),
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    for (case, text) in rendered {
        insta::with_settings!({
            snapshot_path => root().join("snapshots/fixtures/check"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(case, text);
        });
    }
}
