//! The body of each fuzz target, as functions of the input bytes, so that a regression test
//! can replay saved inputs (`fuzz/regressions/<target>/*`) without libFuzzer:
//! `rulec_fuzz::targets::run(target, bytes)`.

use crate::grammar::{Query, render};
use crate::{
    RULE_FILE, check, consume, output_fields, pack_with_rule, pack_with_rule_and_manifest,
    render_all,
};
use rulec_contract::{parse_contract, parse_type, render_type, schema_fingerprint};
use rulec_pack::{PackFiles, PackManifest, load_pack};

/// The fuzz targets, by name (the names of `fuzz_targets/*.rs`).
pub const TARGETS: &[&str] = &[
    "check_rule",
    "load_contract",
    "load_pack_manifest",
    "consume_substrait",
    "sql_grammar",
];

/// Runs target `name` on `data` as its fuzz target does. Panics on an unknown name (and
/// wherever the target finds a bug).
pub fn run(name: &str, data: &[u8]) {
    match name {
        "check_rule" => check_rule(data),
        "load_contract" => load_contract(data),
        "load_pack_manifest" => load_pack_manifest(data),
        "consume_substrait" => consume_substrait(data),
        "sql_grammar" => sql_grammar_bytes(data),
        _ => panic!(
            "unknown fuzz target `{name}` (known: {})",
            TARGETS.join(", ")
        ),
    }
}

/// `check_rule`: the bytes are `rule.sql` in an in-memory pack with the CPG `pack.yaml` and
/// the embedded contracts; `rulec check` on it.
pub fn check_rule(data: &[u8]) {
    let files = pack_with_rule(data.to_vec());
    let checked = check(&files);
    // A pack whose manifest and contracts are valid always loads, with the rule in it.
    let pack = checked.pack.expect("the embedded pack.yaml loads");
    assert!(
        pack.rule(RULE_FILE.trim_end_matches(".sql")).is_some(),
        "rule.sql is not a rule of the pack"
    );
}

/// `load_contract`: the bytes are `contracts/fuzz.yaml`.
pub fn load_contract(data: &[u8]) {
    const PATH: &str = "contracts/fuzz.yaml";
    let files = PackFiles::from_memory("fuzz", [(PATH.to_owned(), data.to_vec())]);
    let text = match files.text(PATH).expect("the file is in the pack") {
        Ok(text) => text,
        Err(d) => {
            render_all(&files, &[d]);
            return;
        }
    };
    match parse_contract(PATH, text) {
        Ok(contract) => {
            let _ = schema_fingerprint(&contract.schema, &contract.metadata);
            assert_eq!(contract.columns.len(), contract.schema.fields().len());
            for (column, field) in contract.columns.iter().zip(contract.schema.fields()) {
                assert_eq!(&column.name, field.name());
                assert_eq!(&column.data_type, field.data_type());
                assert_eq!(column.nullable, field.is_nullable());
                // The type grammar round-trips: what `render_type` prints (in reports and in
                // schema fingerprints) parses back to the same type.
                let rendered = render_type(&column.data_type);
                match parse_type(&rendered) {
                    Ok(back) => assert_eq!(
                        back, column.data_type,
                        "column `{}`: `{}` renders as `{rendered}`, which parses to another type",
                        column.name, column.type_text
                    ),
                    Err(e) => panic!(
                        "column `{}`: `{}` renders as `{rendered}`, which does not parse: {e}",
                        column.name, column.type_text
                    ),
                }
            }
        }
        Err(diagnostics) => {
            assert!(
                !diagnostics.is_empty(),
                "a contract failed without a diagnostic"
            );
            render_all(&files, &diagnostics);
        }
    }
}

/// A small rule for the `load_pack_manifest` pack.
const MANIFEST_RULE: &[u8] = b"SELECT file_id, path FROM libcst_files WHERE file_id > 0\n";

/// `load_pack_manifest`: the bytes are `pack.yaml`, in a pack with the embedded contracts and
/// one rule; the manifest parser, then the pack loader and the lint levels (nothing compiled).
pub fn load_pack_manifest(data: &[u8]) {
    let files = pack_with_rule_and_manifest(data.to_vec(), MANIFEST_RULE.to_vec());
    if let Some(Ok(text)) = files.text("pack.yaml") {
        match PackManifest::parse(text) {
            Ok(manifest) => {
                let keys = [
                    "name", "dialect", "inputs", "output", "lints", "run", "products",
                ];
                for key in keys
                    .into_iter()
                    .chain(manifest.inputs.keys().map(String::as_str))
                    .chain(manifest.lints.keys().map(String::as_str))
                {
                    let _ = manifest.key_span(key);
                    let _ = manifest.value_span(key);
                }
            }
            Err(diagnostics) => assert!(!diagnostics.is_empty()),
        }
    }
    let (pack, mut diagnostics) = load_pack(&files);
    if let Some(pack) = &pack {
        let (_levels, problems) = rulec_pack::lint_levels(pack);
        diagnostics.extend(problems);
    } else {
        assert!(
            rulec_diagnostics::has_errors(&diagnostics),
            "no pack and no error"
        );
    }
    rulec_diagnostics::sort(&mut diagnostics);
    render_all(&files, &diagnostics);
}

/// `consume_substrait`: the bytes are a Substrait plan; decoded, then consumed against the
/// session with the contract tables. Errors are fine, panics are not.
pub fn consume_substrait(data: &[u8]) {
    // `from_substrait` turns a panic of DataFusion's consumer into an error (rulec's
    // answer to a malformed plan); libFuzzer's panic hook would abort on it anyway. The
    // default hook goes back in once: a panic that escapes is still caught by libFuzzer's
    // wrapper and is still a crash.
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    let Ok(plan) = rulec_substrait::decode(data) else {
        return;
    };
    if let Ok(consumed) = consume(&plan) {
        // What `run` does next with a consumed plan starts from its schema.
        let _ = output_fields(&consumed);
    }
}

/// The `sql_grammar` pack's manifest: the CPG one's dialect, with the `unused-input` lint off
/// (every query reads one or two of the 14 contracts; the other warnings would only cost
/// rendering time).
const GRAMMAR_PACK_YAML: &str =
    "name: grammar\ndialect: datafusion\nlints:\n  unused-input: allow\n";

/// `sql_grammar` on raw bytes, read as libFuzzer's typed targets read them.
pub fn sql_grammar_bytes(data: &[u8]) {
    let u = arbitrary::Unstructured::new(data);
    if let Ok(query) = <Query as arbitrary::Arbitrary>::arbitrary_take_rest(u) {
        sql_grammar(&query);
    }
}

/// `sql_grammar`: the query rendered as `rule.sql`, checked; when it compiles without errors,
/// its canonical SQL, and the Substrait round trip with the output schema compared.
pub fn sql_grammar(query: &Query) {
    let sql = render(query);
    let files = pack_with_rule_and_manifest(
        GRAMMAR_PACK_YAML.as_bytes().to_vec(),
        sql.clone().into_bytes(),
    );
    let checked = check(&files);
    #[expect(
        clippy::print_stderr,
        reason = "RULEC_FUZZ_SHOW_SQL asks the fuzz run to print each query it tries"
    )]
    if std::env::var_os("RULEC_FUZZ_SHOW_SQL").is_some() {
        let codes: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", d.code.code, d.message))
            .collect();
        eprintln!("{sql}\n-- {}\n", codes.join("\n-- "));
    }
    if rulec_diagnostics::has_errors(&checked.diagnostics) {
        return;
    }
    let pack = checked.pack.as_ref().expect("a pack without errors loads");
    let compiled = checked.compiled.as_ref().expect("a loaded pack compiles");
    let rule = compiled
        .rule(RULE_FILE.trim_end_matches(".sql"))
        .unwrap_or_else(|| panic!("no compiled rule for:\n{sql}"));
    let Some(plan) = &rule.plan else {
        panic!("a rule without errors has no plan:\n{sql}");
    };
    // `rulec plan` shows the canonical SQL (or why there is none).
    let _ = rulec_compile::canonical_sql(pack, compiled, &rule.name);

    let substrait =
        rulec_compile::with_planning_stack(|| match rulec_substrait::to_substrait(plan) {
            Ok(substrait) => substrait,
            Err(e) => panic!("check found the plan encodable, to_substrait fails: {e}\n{sql}"),
        });
    let bytes = rulec_substrait::encode(&substrait);
    let decoded = match rulec_substrait::decode(&bytes) {
        Ok(decoded) => decoded,
        // prost refuses messages nested more than 100 deep, which deep expressions reach;
        // `run` consumes the message it encoded for that reason, and so does this target.
        Err(e) if e.to_string().contains("recursion limit") => substrait,
        Err(e) => panic!("rulec's own Substrait plan does not decode: {e}\n{sql}"),
    };
    let consumed = consume(&decoded)
        .unwrap_or_else(|e| panic!("rulec's own Substrait plan does not consume: {e}\n{sql}"));
    let expected = output_fields(plan);
    let actual = output_fields(&consumed);
    if expected != actual {
        panic!(
            "the consumed plan's output differs from the compiled plan's\n\
             compiled: {expected:?}\nconsumed: {actual:?}\nrule:\n{sql}"
        );
    }
}
