//! Every saved fuzz finding (`fuzz/regressions/<target>/*`) replayed through its target, as
//! the fuzz target runs it: a panic fails the test and names the input.

use crate::targets::{TARGETS, run};
use std::path::{Path, PathBuf};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root")
        .to_path_buf()
}

#[test]
fn every_regression_replays_without_a_panic() {
    let regressions = root().join("fuzz/regressions");
    let mut replayed = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&regressions).expect("fuzz/regressions") {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let target = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            TARGETS.contains(&target.as_str()),
            "fuzz/regressions/{target}: no such target"
        );
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("target directory")
            .map(|e| e.expect("entry").path())
            .collect();
        inputs.sort();
        for input in inputs {
            let bytes = std::fs::read(&input).expect("input");
            let target = target.clone();
            // On a thread of its own, with the stack the planner is given in `rulec` (a
            // test thread's is smaller than a fuzz target's main thread).
            let replay = std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn(move || run(&target, &bytes))
                .expect("spawn")
                .join();
            if replay.is_err() {
                failures.push(input.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(failures.is_empty(), "panicked: {failures:#?}");
    assert!(replayed >= 5, "only {replayed} regressions replayed");
}
