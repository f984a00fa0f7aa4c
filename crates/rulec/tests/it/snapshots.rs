//! Snapshots of every rule in `rules/`: canonical SQL, optimized plan, fingerprint and
//! Substrait text, one file per rule under `snapshots/rules/<pack>/`. Also the rendered
//! diagnostics of the fixture packs under `tests/packs/`, in `snapshots/packs/`.

use crate::support::{compile, root, rulec};
use std::fmt::Write as _;

fn pack_dirs(under: &str) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(root().join(under))
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("pack.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rule_has_a_reviewed_snapshot() {
    // Deep queries (TPC-DS) need more stack than a test thread has, as in the CLI.
    rulec_compile::with_planning_stack(snapshot_every_rule);
}

fn snapshot_every_rule() {
    for pack_dir in pack_dirs("rules") {
        let pack_name = pack_dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let (pack, compiled) = compile(&pack_dir);
        for rule in &pack.rules {
            let c = compiled.rule(&rule.name).expect("compiled");
            let plan = c
                .plan
                .as_ref()
                .unwrap_or_else(|| panic!("{}: {:?}", rule.name, c.diagnostics));
            let mut text = String::new();
            let _ = writeln!(
                text,
                "fingerprint: {}",
                c.fingerprint.as_deref().unwrap_or("-")
            );
            let _ = writeln!(
                text,
                "schema fingerprint: {}",
                c.schema_fingerprint.as_deref().unwrap_or("-")
            );
            let _ = writeln!(text, "\n--- canonical SQL");
            match rulec_compile::canonical_sql(&pack, &compiled, &rule.name) {
                Ok(sql) => text.push_str(&sql),
                Err(why) => {
                    let _ = write!(text, "(not printable: {why})");
                }
            }
            let _ = writeln!(
                text,
                "\n\n--- optimized logical plan\n{}",
                plan.display_indent_schema()
            );
            let substrait = rulec_substrait::to_substrait(plan).expect("encodes");
            let _ = write!(
                text,
                "\n--- substrait\n{}",
                rulec_substrait::plan_to_text(&substrait)
            );
            insta::with_settings!({
                snapshot_path => root().join("snapshots/rules").join(&pack_name),
                prepend_module_to_snapshot => false,
                input_file => pack_dir.join(&rule.file),
                omit_expression => true,
            }, {
                insta::assert_snapshot!(rule.name.clone(), text);
            });
        }
    }
}

#[test]
fn fixture_pack_diagnostics_are_pinned() {
    for pack_dir in pack_dirs("tests/packs") {
        let name = pack_dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let relative = format!("tests/packs/{name}");
        let output = rulec(&["check", &relative]);
        insta::with_settings!({
            snapshot_path => root().join("snapshots/packs"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, String::from_utf8_lossy(&output.stdout));
        });
    }
}
