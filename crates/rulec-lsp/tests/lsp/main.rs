//! The language server driven over JSON-RPC in-process (`Connection::memory`), feature by
//! feature, on a copy of `tests/fixtures/shop` (nested contract types, two rules) and of
//! the CPG pack.

mod client;

use client::{Client, uri};
use lsp_server::{Connection, Message, RequestId};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A fresh copy of a pack (without data) in a scratch directory.
fn copy_pack(from: &str, name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(from);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lsp-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&source, &dir);
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "data" || name == "out" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &to.join(name));
        } else {
            std::fs::copy(entry.path(), to.join(name)).expect("copy");
        }
    }
}

fn shop(name: &str) -> PathBuf {
    copy_pack("tests/fixtures/shop", name)
}

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn edits_that_break_and_fix_a_rule_publish_and_clear_diagnostics_downstream() {
    let root = shop("break-fix");
    let mut client = Client::start(&root);
    assert!(
        client.published().is_empty(),
        "a clean pack publishes nothing"
    );
    let sessions = root.join("sessions.sql");
    client.open(&sessions);
    // `e.payload.kind` → `e.payload.knd` (line 4, after `e.payload.`): an incremental edit.
    client.edit(&sessions, 2, (4, 12, 4, 16), "knd");
    let published = client.published();
    let broken = &published["sessions.sql"];
    assert_eq!(codes(broken), ["Q001"], "{broken:?}");
    assert_eq!(
        broken[0]["range"]["start"],
        json!({"line": 4, "character": 2})
    );
    assert_eq!(
        broken[0]["message"],
        "Field knd not found in struct\nhelp: did you mean the struct field `kind`?"
    );
    assert_eq!(broken[0]["source"], "rulec");
    // The reader is not checked while its input is broken.
    assert_eq!(codes(&published["daily.sql"]), ["P006"]);
    // Unsaved text wins over the disk, where the rule is unchanged.
    assert!(
        std::fs::read_to_string(&sessions)
            .unwrap()
            .contains("payload.kind")
    );

    client.edit(&sessions, 3, (4, 12, 4, 15), "kind");
    let fixed = client.published();
    assert_eq!(fixed["sessions.sql"], Vec::<Value>::new());
    assert_eq!(fixed["daily.sql"], Vec::<Value>::new());

    // Closing a document falls back to the file on disk.
    client.replace(&sessions, 4, "SELECT nope FROM events");
    assert_eq!(codes(&client.published()["sessions.sql"]), ["Q001"]);
    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri(&sessions)}}),
    );
    assert!(client.published()["sessions.sql"].is_empty());
    client.shutdown();
}

#[test]
fn diagnostics_are_the_ones_rulec_check_reports() {
    let root = shop("same-as-check");
    let daily = root.join("daily.sql");
    std::fs::write(
        &daily,
        "SELECT kind, count(*) AS n FROM sesions GROUP BY kind\n",
    )
    .unwrap();
    let mut client = Client::start(&root);
    let published = client.published();
    let project = rulec_driver::Project::load(&root).unwrap();
    let expected: Vec<(String, String)> = project
        .all_diagnostics()
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            for note in &d.notes {
                message.push_str(&format!("\nnote: {note}"));
            }
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            (d.code.code.to_owned(), message)
        })
        .collect();
    let got: Vec<(String, String)> = published["daily.sql"]
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(got[0].0, "Q002");
    assert!(
        got[0].1.ends_with("help: did you mean `sessions`?"),
        "{got:?}"
    );
    client.shutdown();
}

#[test]
fn contract_and_pack_yaml_edits_recheck_their_readers() {
    let root = shop("contracts");
    let mut client = Client::start(&root);
    let users = root.join("contracts/users.yaml");
    client.open(&users);
    client.replace(&users, 2, "table: users\ncolumns:\n  - {name: id, type: int64, nullable: false}\n  - {name: full_name, type: utf8}\n");
    let published = client.published();
    assert_eq!(codes(&published["sessions.sql"]), ["Q001"]);
    assert_eq!(codes(&published["daily.sql"]), ["P006"]);
    // A broken contract is reported in the contract itself.
    client.replace(
        &users,
        3,
        "table: users\ncolumns:\n  - {name: id, type: int65}\n",
    );
    let published = client.published();
    assert_eq!(codes(&published["users.yaml"]), ["C002"], "{published:?}");
    assert_eq!(
        published["users.yaml"][0]["range"]["start"]["line"],
        json!(2)
    );
    client.replace(&users, 4, &std::fs::read_to_string(&users).unwrap());
    let published = client.published();
    assert!(published.values().all(Vec::is_empty), "{published:?}");

    let manifest = root.join("pack.yaml");
    client.open(&manifest);
    let text = std::fs::read_to_string(&manifest).unwrap();
    client.replace(
        &manifest,
        2,
        &format!("{text}products:\n  sesions: {{order_by: [kind]}}\n"),
    );
    let published = client.published();
    assert_eq!(codes(&published["pack.yaml"]), ["P001"]);
    assert!(
        published["pack.yaml"][0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `sessions`?")
    );
    client.shutdown();
}

#[test]
fn hover_shows_types_contract_lines_lineage_and_rule_schemas() {
    let root = shop("hover");
    let mut client = Client::start(&root);
    let sessions = root.join("sessions.sql");
    let daily = root.join("daily.sql");
    let text = |v: &Value| {
        v["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // `e.payload.buyer.id`, on `id` (line 3): the nested field's type, through the contract.
    let nested = text(&client.at("textDocument/hover", &sessions, 3, 19, json!({})));
    assert!(nested.contains("e.payload.buyer.id: int64"), "{nested}");
    assert!(nested.contains("contracts/events.yaml:5"), "{nested}");
    assert!(
        nested.contains("Who did it and what, as the tracker sent it."),
        "{nested}"
    );
    assert!(
        nested.contains("input column events.payload.buyer.id"),
        "{nested}"
    );

    // `e.event_id`: NOT NULL from the contract.
    let column = text(&client.at("textDocument/hover", &sessions, 2, 5, json!({})));
    assert!(column.contains("e.event_id: int64 NOT NULL"), "{column}");

    // An output column: its type and its lineage in one line.
    let output = text(&client.at("textDocument/hover", &sessions, 3, 24, json!({})));
    assert!(output.contains("sessions.user_id: int64"), "{output}");
    assert!(
        output.contains("lineage: copy of events.payload.buyer.id"),
        "{output}"
    );

    // A rule reference: the rule's output schema and fingerprint.
    let rule = text(&client.at("textDocument/hover", &daily, 1, 42, json!({})));
    assert!(rule.contains("rule `sessions` (sessions.sql)"), "{rule}");
    assert!(rule.contains("user_id int64"), "{rule}");
    assert!(rule.contains("fingerprint `sha256:"), "{rule}");

    // A column of an upstream rule: lineage through it to the inputs.
    let upstream = text(&client.at("textDocument/hover", &daily, 1, 10, json!({})));
    assert!(upstream.contains("kind: utf8"), "{upstream}");
    assert!(
        upstream.contains("lineage: copy of events.payload.kind"),
        "{upstream}"
    );

    // An input table.
    let table = text(&client.at("textDocument/hover", &sessions, 6, 7, json!({})));
    assert!(
        table.contains("input `events` (contracts/events.yaml)"),
        "{table}"
    );
    assert!(
        table.contains("items list<struct<sku: utf8, qty: int32>>"),
        "{table}"
    );

    // A function: its signature and description.
    let function = text(&client.at("textDocument/hover", &daily, 1, 17, json!({})));
    assert!(function.contains("count("), "{function}");

    // Nothing under the cursor: null.
    assert_eq!(
        client.at("textDocument/hover", &sessions, 0, 0, json!({})),
        Value::Null
    );
    client.shutdown();
}

#[test]
fn hover_on_the_cpg_pack_shows_nested_lineage() {
    let root = copy_pack("../../rules/cpg", "cpg");
    let mut client = Client::start(&root);
    let nodes = root.join("libcst_nodes.sql");
    // `f.node.kind AS kind`, on the alias.
    let hover = client.at("textDocument/hover", &nodes, 6, 18, json!({}));
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("libcst_nodes.kind: utf8"), "{text}");
    assert!(
        text.contains("copy of libcst_files.nodes[*].kind"),
        "{text}"
    );

    // `f.node.kind`, on `kind`: a field of the derived table's unnested struct. Its lineage
    // goes through the unnest to the contract, and so do definition and references.
    let hover = client.at("textDocument/hover", &nodes, 6, 10, json!({}));
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("f.node.kind: utf8"), "{text}");
    assert!(
        text.contains("lineage: copy of libcst_files.nodes[*].kind"),
        "{text}"
    );
    let definition = client.at("textDocument/definition", &nodes, 6, 10, json!({}));
    let contract = std::fs::read_to_string(root.join("contracts/libcst_files.yaml")).unwrap();
    let (file, line, character) = location(&definition);
    assert_eq!(file, "libcst_files.yaml");
    let line_text = contract.lines().nth(line as usize).unwrap();
    assert!(
        line_text[character as usize..].starts_with("kind: utf8"),
        "{line_text}"
    );
    let references = client.at(
        "textDocument/references",
        &nodes,
        6,
        10,
        json!({"context": {"includeDeclaration": false}}),
    );
    let files: std::collections::BTreeSet<String> = references
        .as_array()
        .unwrap()
        .iter()
        .map(|r| location(r).0)
        .collect();
    assert!(files.contains("libcst_nodes.sql"), "{files:?}");
    assert!(files.contains("cpg_nodes.sql"), "{files:?}");
    client.shutdown();
}

fn location(v: &Value) -> (String, u64, u64) {
    (
        v["uri"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned(),
        v["range"]["start"]["line"].as_u64().unwrap(),
        v["range"]["start"]["character"].as_u64().unwrap(),
    )
}

#[test]
fn go_to_definition_finds_rules_contract_lines_nested_fields_and_select_items() {
    let root = shop("definition");
    let mut client = Client::start(&root);
    let sessions = root.join("sessions.sql");
    let daily = root.join("daily.sql");
    // A rule reference → the rule file.
    let rule = client.at("textDocument/definition", &daily, 1, 42, json!({}));
    assert_eq!(location(&rule), ("sessions.sql".to_owned(), 0, 0));
    // A column of a rule → the select item that makes it.
    let column = client.at("textDocument/definition", &daily, 1, 10, json!({}));
    assert_eq!(location(&column), ("sessions.sql".to_owned(), 4, 20));
    // A contract column → its line.
    let contract = client.at("textDocument/definition", &sessions, 2, 5, json!({}));
    assert_eq!(location(&contract), ("events.yaml".to_owned(), 2, 11));
    // A nested field → its place in the contract type.
    let field = client.at("textDocument/definition", &sessions, 3, 19, json!({}));
    assert_eq!(location(&field), ("events.yaml".to_owned(), 5, 32));
    // A CTE → its name.
    let cte = client.at("textDocument/definition", &daily, 3, 27, json!({}));
    assert_eq!(location(&cte), ("daily.sql".to_owned(), 0, 5));
    client.shutdown();
}

#[test]
fn references_are_the_rules_that_read_a_column() {
    let root = shop("references");
    let mut client = Client::start(&root);
    let sessions = root.join("sessions.sql");
    // The contract column `payload.kind`, read by sessions and (through it) daily.
    let places = client.at(
        "textDocument/references",
        &sessions,
        4,
        13,
        json!({"context": {"includeDeclaration": false}}),
    );
    let mut found: Vec<(String, u64, u64)> =
        places.as_array().unwrap().iter().map(location).collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("daily.sql".to_owned(), 1, 9),
            ("sessions.sql".to_owned(), 4, 12)
        ]
    );
    // With the declaration: the contract line comes first.
    let places = client.at(
        "textDocument/references",
        &sessions,
        4,
        13,
        json!({"context": {"includeDeclaration": true}}),
    );
    assert_eq!(location(&places[0]).0, "events.yaml");
    client.shutdown();
}

fn labels(v: &Value) -> Vec<String> {
    let items = v
        .as_array()
        .cloned()
        .or_else(|| v["items"].as_array().cloned())
        .unwrap_or_default();
    items
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn completion_lists_tables_columns_nested_fields_and_functions() {
    let root = shop("completion");
    let mut client = Client::start(&root);
    let sessions = root.join("sessions.sql");
    client.open(&sessions);
    // Unfinished text: `e.payload.` — the struct's fields, from the last good scope.
    client.edit(&sessions, 2, (4, 2, 4, 16), "e.payload.");
    let fields = client.at("textDocument/completion", &sessions, 4, 12, json!({}));
    assert_eq!(labels(&fields), ["buyer", "kind"]);
    // `e.` — the relation's columns.
    client.edit(&sessions, 3, (4, 2, 4, 12), "e.");
    let columns = labels(&client.at("textDocument/completion", &sessions, 4, 4, json!({})));
    assert_eq!(columns, ["event_id", "payload", "items"]);
    // `e.items.` — the fields of the list's elements.
    client.edit(&sessions, 4, (4, 2, 4, 4), "e.items.");
    let items = labels(&client.at("textDocument/completion", &sessions, 4, 10, json!({})));
    assert_eq!(items, ["sku", "qty"]);
    // A bare word: tables, rules and columns in scope, and functions, by prefix.
    client.edit(&sessions, 5, (4, 2, 4, 10), "us");
    let words = labels(&client.at("textDocument/completion", &sessions, 4, 4, json!({})));
    assert!(words.contains(&"users".to_owned()), "{words:?}");
    client.edit(&sessions, 6, (4, 2, 4, 4), "upp");
    let functions = client.at("textDocument/completion", &sessions, 4, 5, json!({}));
    let upper = functions
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "upper")
        .expect("upper");
    assert!(
        upper["detail"].as_str().unwrap().contains("upper("),
        "{upper}"
    );
    client.edit(&sessions, 7, (4, 2, 4, 5), "");
    let all = labels(&client.at("textDocument/completion", &sessions, 4, 2, json!({})));
    for expected in [
        "e", "u", "events", "users", "daily", "event_id", "payload", "name",
    ] {
        assert!(all.contains(&expected.to_owned()), "{expected} in {all:?}");
    }
    assert!(
        !all.contains(&"sessions".to_owned()),
        "a rule does not read itself"
    );
    client.shutdown();
}

#[test]
fn quick_fixes_apply_the_did_you_mean_suggestions() {
    let root = shop("quick-fix");
    let mut client = Client::start(&root);
    let daily = root.join("daily.sql");
    client.open(&daily);
    client.replace(&daily, 2, "SELECT kind FROM sesions\n");
    let published = client.published();
    let diagnostic = published["daily.sql"][0].clone();
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&daily)}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic]}}),
    );
    let actions = actions.response_result.unwrap();
    let action = &actions[0];
    assert_eq!(action["title"], "Replace with `sessions`");
    assert_eq!(action["kind"], "quickfix");
    let edit = &action["edit"]["changes"][uri(&daily)][0];
    assert_eq!(edit["newText"], "sessions");
    assert_eq!(
        edit["range"],
        json!({"start": {"line": 0, "character": 17}, "end": {"line": 0, "character": 24}})
    );

    // A misspelled qualified column keeps its qualifier.
    client.replace(&daily, 3, "SELECT s.knd FROM sessions AS s\n");
    let published = client.published();
    let diagnostic = published["daily.sql"][0].clone();
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&daily)}, "range": diagnostic["range"], "context": {"diagnostics": []}}),
    );
    let actions = actions.response_result.unwrap();
    let edit = &actions[0]["edit"]["changes"][uri(&daily)][0];
    assert_eq!(edit["newText"], "kind", "{actions}");
    assert_eq!(edit["range"]["start"], json!({"line": 0, "character": 9}));
    client.shutdown();
}

#[test]
fn document_symbols_are_ctes_and_output_columns() {
    let root = shop("symbols");
    let mut client = Client::start(&root);
    let daily = root.join("daily.sql");
    let response = client.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri(&daily)}}),
    );
    let symbols = response.response_result.unwrap();
    let names: Vec<(String, String)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("counted".to_owned(), "CTE".to_owned()),
            ("kind".to_owned(), "utf8".to_owned()),
            ("events".to_owned(), "int64".to_owned()),
        ]
    );
    client.shutdown();
}

#[test]
fn the_server_survives_bad_requests_unknown_methods_and_files_outside_packs() {
    let root = shop("robust");
    let mut client = Client::start(&root);
    // An unknown method is answered.
    let unknown = client.request("textDocument/rename", json!({}));
    assert_eq!(unknown.response_result.expect_err("an error").code, -32601);
    // Params of the wrong shape are answered.
    let bad = client.request("textDocument/hover", json!({"textDocument": 3}));
    assert_eq!(bad.response_result.expect_err("an error").code, -32602);
    // A file outside any pack: no answer to give, no diagnostics.
    let outside = Path::new(env!("CARGO_TARGET_TMPDIR")).join("outside.sql");
    std::fs::write(&outside, "SELECT nope FROM nowhere").unwrap();
    client.open(&outside);
    assert_eq!(
        client.at("textDocument/hover", &outside, 0, 8, json!({})),
        Value::Null
    );
    assert!(!client.published().contains_key("outside.sql"));
    // A change to a document that was never opened is logged, not fatal.
    client.replace(&root.join("never-opened.sql"), 1, "SELECT 1");
    // Text that does not parse, and a rule that reads itself.
    let sessions = root.join("sessions.sql");
    client.open(&sessions);
    client.replace(&sessions, 2, "SELECT (((( FROM");
    assert_eq!(codes(&client.published()["sessions.sql"]), ["S001"]);
    client.replace(&sessions, 3, "SELECT * FROM sessions");
    assert_eq!(codes(&client.published()["sessions.sql"]), ["P002"]);
    assert_eq!(
        client.at("textDocument/hover", &sessions, 0, 1, json!({})),
        Value::Null
    );
    // Still answering.
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri(&root.join("daily.sql"))}}),
    );
    assert!(symbols.response_result.is_ok());
    client.shutdown();
}

#[test]
fn malformed_frames_are_answered_and_reading_goes_on() {
    // The stdio reader, on a byte stream: a payload that is not JSON, one that is JSON but
    // not a message (with an id), then a valid request.
    let frame = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let input = [
        frame("{not json"),
        frame(r#"{"id": 7, "what": "no method"}"#),
        frame(r#"{"jsonrpc": "2.0", "id": 8, "method": "shutdown"}"#),
    ]
    .concat();
    let (sender, receiver) = crossbeam_channel::unbounded();
    rulec_lsp::read_messages(&mut input.as_bytes(), &sender);
    let messages: Vec<Message> = receiver.try_iter().collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    match &messages[0] {
        Message::Request(r) => {
            assert_eq!(r.id, RequestId::from(7));
            assert_eq!(r.params["code"], json!(-32600));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&messages[1], Message::Request(r) if r.method == "shutdown"));
}

#[test]
fn the_workspace_is_every_pack_under_the_root() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lsp-workspace");
    let _ = std::fs::remove_dir_all(&root);
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop"),
        &root.join("one"),
    );
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop"),
        &root.join("nested/two"),
    );
    std::fs::write(
        root.join("nested/two/daily.sql"),
        "SELECT kind FROM sesions\n",
    )
    .unwrap();
    let mut client = Client::start(&root);
    // The broken rule of the second pack is reported at startup, without opening it.
    let published = client.published();
    assert_eq!(codes(&published["daily.sql"]), ["Q002"]);
    assert_eq!(published.len(), 1, "{published:?}");
    // Hover works in both packs.
    let one = client.at(
        "textDocument/hover",
        &root.join("one/daily.sql"),
        1,
        42,
        json!({}),
    );
    assert!(
        one["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("rule `sessions`")
    );
    let two = client.at(
        "textDocument/hover",
        &root.join("nested/two/sessions.sql"),
        6,
        7,
        json!({}),
    );
    assert!(
        two["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("input `events`")
    );
    client.shutdown();
}

/// Every request at every ninth column of every rule of packs the other tests do not use
/// (TPC-H, the nested-data pack): each is answered, none with an error.
#[test]
fn every_request_anywhere_in_other_packs_is_answered_without_error() {
    for (pack, name) in [
        ("../../rules/tpch", "tpch"),
        ("../../tests/packs/nested", "nested"),
    ] {
        let root = copy_pack(pack, &format!("anywhere-{name}"));
        let mut client = Client::start(&root);
        let mut rules: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        rules.sort();
        let mut answered = 0;
        for rule in &rules {
            let text = std::fs::read_to_string(rule).unwrap();
            for (line, line_text) in text.lines().enumerate() {
                let width = line_text.encode_utf16().count();
                for character in (0..=width).step_by(9) {
                    let at = |method: &str, extra: Value| {
                        let mut params = json!({"textDocument": {"uri": uri(rule)}, "position": {"line": line, "character": character}});
                        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
                            p.extend(e.clone());
                        }
                        (method.to_owned(), params)
                    };
                    for (method, params) in [
                        at("textDocument/hover", json!({})),
                        at("textDocument/definition", json!({})),
                        at(
                            "textDocument/references",
                            json!({"context": {"includeDeclaration": true}}),
                        ),
                        at("textDocument/completion", json!({})),
                    ] {
                        let response = client.request(&method, params);
                        assert!(
                            response.response_result.is_ok(),
                            "{method} at {}:{line}:{character}: {:?}",
                            rule.display(),
                            response.response_result
                        );
                        answered += 1;
                    }
                }
            }
        }
        assert!(answered > 1000, "{answered}");
        client.shutdown();
    }
}

/// The hostile rules of `tests/fixtures/hostile` (statements that are not queries, reads
/// of files and URLs, deep nesting, odd bytes, BOMs, CRLF), typed into one open document
/// one after another: every edit is published, every request answered without error.
#[test]
fn hostile_rules_typed_into_an_open_document_are_answered() {
    let root = copy_pack("../../tests/fixtures/hostile/_base", "hostile");
    let mut client = Client::start(&root);
    let rule = root.join("hostile.sql");
    std::fs::write(&rule, "SELECT 1 AS one").unwrap();
    client.open(&rule);
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hostile");
    let mut texts: Vec<(String, String)> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path().join("hostile.sql"))
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect();
    texts.sort();
    assert!(texts.len() > 20, "{}", texts.len());
    for (version, (case, text)) in texts.iter().enumerate() {
        client.replace(&rule, i32::try_from(version).unwrap() + 2, text);
        let published = client.published();
        assert!(
            published.contains_key("hostile.sql"),
            "{case}: {published:?}"
        );
        for (line, line_text) in text.lines().enumerate().take(50) {
            let width = line_text.encode_utf16().count().min(400);
            for character in (0..=width).step_by(11) {
                for method in [
                    "textDocument/hover",
                    "textDocument/completion",
                    "textDocument/definition",
                ] {
                    let response = client.request(
                        method,
                        json!({"textDocument": {"uri": uri(&rule)}, "position": {"line": line, "character": character}}),
                    );
                    assert!(
                        response.response_result.is_ok(),
                        "{case} {method} {line}:{character}"
                    );
                }
            }
        }
    }
    client.shutdown();
}

#[test]
fn files_changed_on_disk_are_read_again_when_the_client_says_so() {
    let root = shop("watched");
    let mut client = Client::start(&root);
    // A rule created outside the editor (a generator, a git checkout).
    let weekly = root.join("weekly.sql");
    std::fs::write(&weekly, "SELECT kind FROM sesions\n").unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&weekly), "type": 1}]}),
    );
    assert_eq!(codes(&client.published()["weekly.sql"]), ["Q002"]);
    // Fixed on disk, then deleted: its findings are cleared.
    std::fs::write(&weekly, "SELECT kind FROM sessions\n").unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&weekly), "type": 2}]}),
    );
    assert!(client.published()["weekly.sql"].is_empty());
    std::fs::write(&weekly, "SELECT nope FROM sessions\n").unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&weekly), "type": 2}]}),
    );
    assert_eq!(codes(&client.published()["weekly.sql"]), ["Q001"]);
    std::fs::remove_file(&weekly).unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&weekly), "type": 3}]}),
    );
    assert!(client.published()["weekly.sql"].is_empty());
    // A contract changed on disk re-checks its readers.
    let users = root.join("contracts/users.yaml");
    std::fs::write(
        &users,
        "table: users\ncolumns:\n  - {name: id, type: int64, nullable: false}\n",
    )
    .unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&users), "type": 2}]}),
    );
    assert_eq!(codes(&client.published()["sessions.sql"]), ["Q001"]);
    client.shutdown();
}

#[test]
fn without_workspace_folders_a_pack_is_loaded_when_one_of_its_files_opens() {
    let root = shop("no-folders");
    let (client_side, server) = Connection::memory();
    let handle = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || rulec_lsp::serve(&server))
        .expect("spawn");
    let mut client = Client {
        connection: client_side,
        next_id: 0,
        pending: Vec::new(),
        server: Some(handle),
    };
    let init = client.request("initialize", json!({"capabilities": {}}));
    assert!(init.response_result.is_ok());
    client.notify("initialized", json!({}));
    assert!(client.published().is_empty());
    let daily = root.join("daily.sql");
    client.open(&daily);
    client.replace(&daily, 2, "SELECT kind FROM sesions\n");
    assert_eq!(codes(&client.published()["daily.sql"]), ["Q002"]);
    let hover = client.at(
        "textDocument/hover",
        &root.join("sessions.sql"),
        6,
        7,
        json!({}),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("input `events`")
    );
    client.shutdown();
}
