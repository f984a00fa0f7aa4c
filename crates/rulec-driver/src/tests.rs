//! The driver's incremental checks and its disk cache, on a small pack of four rules.

use super::*;

/// A pack of four rules over input `t`: `a` reads `t`, `b` and `c` read `a`, `d` reads `b`.
fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("pack.yaml", "name: small\ninputs:\n  t: data/t.parquet\n"),
        (
            "contracts/t.yaml",
            "table: t\ncolumns:\n  - {name: id, type: int64}\n  - {name: name, type: utf8}\n",
        ),
        ("a.sql", "SELECT id, name FROM t WHERE id > 0"),
        ("b.sql", "SELECT id FROM a"),
        ("c.sql", "SELECT name FROM a"),
        ("d.sql", "SELECT id + 1 AS next FROM b"),
    ]
}

fn project() -> Project {
    let files = PackFiles::from_memory(
        "small",
        files()
            .into_iter()
            .map(|(p, t)| (p.to_owned(), t.as_bytes().to_vec())),
    );
    Project::from_files(Path::new("small"), files)
}

fn edit(project: &mut Project, path: &str, text: &str) {
    assert!(project.set_file(path, Some(text.as_bytes().to_vec())));
    project.check();
}

fn codes(project: &Project) -> Vec<(&'static str, Option<String>)> {
    project
        .all_diagnostics()
        .iter()
        .map(|d| (d.code.code, d.file.clone()))
        .collect()
}

#[test]
fn the_first_check_plans_every_rule() {
    let project = project();
    assert_eq!(project.stats.planned, ["a", "b", "c", "d"]);
    assert!(project.stats.reused.is_empty());
    assert_eq!(codes(&project), []);
}

#[test]
fn an_edit_that_keeps_the_schema_replans_the_edited_rule_only() {
    let mut project = project();
    let before = project
        .compiled
        .as_ref()
        .unwrap()
        .rule("a")
        .unwrap()
        .fingerprint
        .clone();
    edit(&mut project, "a.sql", "SELECT id, name FROM t WHERE id > 1");
    assert_eq!(project.stats.planned, ["a"]);
    assert_eq!(project.stats.reused, ["b", "c", "d"]);
    // The fingerprint changed; readers are not planned again for that alone.
    let after = project
        .compiled
        .as_ref()
        .unwrap()
        .rule("a")
        .unwrap()
        .fingerprint
        .clone();
    assert_ne!(before, after);
}

#[test]
fn an_edit_that_changes_the_schema_replans_the_readers_whose_inputs_changed() {
    let mut project = project();
    edit(
        &mut project,
        "a.sql",
        "SELECT id, upper(name) AS name, 1 AS one FROM t",
    );
    // b and c read a's new schema; d reads b, whose schema did not change.
    assert_eq!(project.stats.planned, ["a", "b", "c"]);
    assert_eq!(project.stats.reused, ["d"]);
}

#[test]
fn a_broken_rule_fails_its_readers_and_the_fix_clears_them() {
    let mut project = project();
    edit(&mut project, "a.sql", "SELECT id, nme FROM t");
    assert_eq!(
        codes(&project),
        [
            ("Q001", Some("a.sql".to_owned())),
            ("P006", Some("b.sql".to_owned())),
            ("P006", Some("c.sql".to_owned())),
            ("P006", Some("d.sql".to_owned())),
        ]
    );
    let unknown = &project.all_diagnostics()[0];
    assert_eq!(unknown.notes, ["possible column t.name"]);
    edit(&mut project, "a.sql", "SELECT id, name FROM t");
    assert_eq!(codes(&project), []);
    assert_eq!(project.stats.planned, ["a", "b", "c", "d"]);
}

#[test]
fn a_contract_edit_replans_the_rules_that_read_the_table() {
    let mut project = project();
    edit(
        &mut project,
        "contracts/t.yaml",
        "table: t\ncolumns:\n  - {name: id, type: int32}\n  - {name: name, type: utf8}\n",
    );
    // a's output type changed (int32), so b and c are planned; d's input type changed too.
    assert_eq!(project.stats.planned, ["a", "b", "c", "d"]);
    // A comment in the contract changes no schema: nothing is planned.
    edit(
        &mut project,
        "contracts/t.yaml",
        "# ids\ntable: t\ncolumns:\n  - {name: id, type: int32}\n  - {name: name, type: utf8}\n",
    );
    assert!(project.stats.planned.is_empty(), "{:?}", project.stats);
}

#[test]
fn a_removed_upstream_rule_is_an_unknown_table_for_its_readers() {
    let mut project = project();
    assert!(project.set_file("b.sql", None));
    project.check();
    assert_eq!(codes(&project), [("Q002", Some("d.sql".to_owned()))]);
}

#[test]
fn non_pack_files_are_ignored() {
    let mut project = project();
    assert!(!project.set_file("notes.txt", Some(b"x".to_vec())));
    assert!(!project.set_file(".hidden/x.sql", Some(b"x".to_vec())));
}

/// A scratch pack directory on disk, removed first if a previous run left it.
fn scratch_pack(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rulec-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files() {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn report_json(project: &Project) -> String {
    serde_json::to_string(&project.report(&project.all_diagnostics())).unwrap()
}

#[test]
fn the_disk_cache_is_reused_across_processes_and_gives_the_same_report() {
    let dir = scratch_pack("reuse");
    let cache = dir.join(CACHE_DIR);
    let cold = Project::load_cached(&dir, &cache).unwrap();
    assert_eq!(cold.stats.cache, Some(CacheStatus::Missing));
    assert_eq!(cold.stats.planned.len(), 4);
    assert!(cache.join(".gitignore").is_file());

    let warm = Project::load_cached(&dir, &cache).unwrap();
    assert_eq!(warm.stats.cache, Some(CacheStatus::Loaded(4)));
    assert!(warm.stats.planned.is_empty());
    assert_eq!(report_json(&warm), report_json(&cold));

    // One file changes: that rule is planned, the rest come from the cache.
    std::fs::write(dir.join("c.sql"), "SELECT name FROM a WHERE id = 3").unwrap();
    let changed = Project::load_cached(&dir, &cache).unwrap();
    assert_eq!(changed.stats.planned, ["c"]);
    let uncached = Project::load(&dir).unwrap();
    assert_eq!(report_json(&changed), report_json(&uncached));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_disk_cache_keeps_findings_with_their_spans_and_help() {
    let dir = scratch_pack("findings");
    std::fs::write(dir.join("a.sql"), "SELECT id, nme FROM t").unwrap();
    let cache = dir.join(CACHE_DIR);
    let cold = Project::load_cached(&dir, &cache).unwrap();
    let warm = Project::load_cached(&dir, &cache).unwrap();
    assert!(warm.stats.planned.is_empty());
    assert_eq!(warm.all_diagnostics(), cold.all_diagnostics());
    assert_eq!(warm.all_diagnostics().len(), 4);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_corrupt_or_foreign_cache_is_ignored_and_rebuilt() {
    let dir = scratch_pack("corrupt");
    let cache = dir.join(CACHE_DIR);
    let expected = report_json(&Project::load(&dir).unwrap());
    std::fs::create_dir_all(&cache).unwrap();
    let file = cache.join("check.json");
    for bad in [
        "{not json",
        "",
        r#"{"format": 1, "rulec": "0.0.0-elsewhere", "entries": {}}"#,
        r#"{"format": 999, "rulec": "0.0.0", "entries": {}}"#,
        // The same format from another build of rulec.
        r#"{"format": 2, "rulec": "0.0.0 (1+2.3)", "entries": {}, "summaries": {}}"#,
    ] {
        std::fs::write(&file, bad).unwrap();
        let project = Project::load_cached(&dir, &cache).unwrap();
        assert!(
            matches!(project.stats.cache, Some(CacheStatus::Ignored(_))),
            "{bad}: {:?}",
            project.stats.cache
        );
        assert_eq!(project.stats.planned.len(), 4);
        assert_eq!(report_json(&project), expected);
        // Rebuilt: the next run reuses everything.
        let next = Project::load_cached(&dir, &cache).unwrap();
        assert!(next.stats.planned.is_empty(), "{bad}");
    }
    // An entry whose stored schema is damaged is a miss, not a crash.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    for entry in parsed["entries"].as_object_mut().unwrap().values_mut() {
        entry["output_schema"] = serde_json::json!("00ff");
    }
    std::fs::write(&file, parsed.to_string()).unwrap();
    let project = Project::load_cached(&dir, &cache).unwrap();
    assert_eq!(project.stats.planned.len(), 4);
    assert_eq!(report_json(&project), expected);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn concurrent_checks_share_the_cache_safely() {
    let dir = scratch_pack("concurrent");
    let cache = dir.join(CACHE_DIR);
    let expected = report_json(&Project::load(&dir).unwrap());
    let reports: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| report_json(&Project::load_cached(&dir, &cache).unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(reports.iter().all(|r| *r == expected));
    let after = Project::load_cached(&dir, &cache).unwrap();
    assert_eq!(after.stats.cache, Some(CacheStatus::Loaded(4)));
    assert!(after.stats.planned.is_empty());
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unchanged_rule_texts_are_not_parsed_again() {
    let mut project = project();
    edit(&mut project, "d.sql", "SELECT id + 2 AS next FROM b");
    let pack = project.pack.as_ref().unwrap();
    // The summary of an unchanged rule came from the last check: its text was not parsed
    // (the parse is made when planning asks for it, which a reused result does not).
    assert!(pack.rule("a").unwrap().summary.table_refs.is_some());
    assert!(!pack.rule("a").unwrap().is_parsed());
    assert!(pack.rule("d").unwrap().is_parsed());
    assert_eq!(project.stats.planned, ["d"]);
    // A rule planned again because its input changed parses on demand.
    edit(&mut project, "a.sql", "SELECT id, name, 2 AS two FROM t");
    assert_eq!(project.stats.planned, ["a", "b", "c"]);
    assert_eq!(codes(&project), []);
}

#[test]
fn the_disk_cache_keeps_summaries_so_a_warm_check_reports_parse_errors_and_lints() {
    let dir = scratch_pack("summaries");
    std::fs::write(dir.join("c.sql"), "SELECT name FROM a WHERE name = NULL").unwrap();
    std::fs::write(dir.join("e.sql"), "SELEC oops").unwrap();
    let cache = dir.join(CACHE_DIR);
    let cold = Project::load_cached(&dir, &cache).unwrap();
    let warm = Project::load_cached(&dir, &cache).unwrap();
    assert!(warm.stats.planned.is_empty());
    let found: Vec<&str> = warm.all_diagnostics().iter().map(|d| d.code.code).collect();
    assert_eq!(found, ["S101", "S001"]);
    assert_eq!(warm.all_diagnostics(), cold.all_diagnostics());
    std::fs::remove_dir_all(dir).unwrap();
}
