//! Readable renderings of Substrait plans: the Substrait text format (substrait-explain),
//! with the rulec Unnest extension spelled out, and protobuf JSON.

use crate::unnest::{UNNEST_TYPE_URL, UnnestPayload};
use datafusion_substrait::substrait::proto::Plan;
use datafusion_substrait::substrait::proto::rel::RelType;
use datafusion_substrait::substrait::proto::Rel;

/// The plan in the Substrait text format. Extension relations are rendered by
/// substrait-explain as opaque; rulec appends the decoded Unnest payloads after the plan.
pub fn plan_to_text(plan: &Plan) -> String {
    let (text, errors) = substrait_explain::format(plan);
    let mut out = text;
    let mut payloads = Vec::new();
    for relation in &plan.relations {
        if let Some(datafusion_substrait::substrait::proto::plan_rel::RelType::Root(root)) = &relation.rel_type {
            if let Some(input) = &root.input {
                collect_unnests(input, &mut payloads);
            }
        }
    }
    if !payloads.is_empty() {
        out.push_str("\n=== rulec extensions\n");
        for (i, p) in payloads.iter().enumerate() {
            out.push_str(&format!("#{i} {UNNEST_TYPE_URL} {p}\n"));
        }
    }
    if !errors.is_empty() {
        out.push_str("\n=== rendering notes\n");
        for e in errors {
            out.push_str(&format!("{e}\n"));
        }
    }
    out
}

fn collect_unnests(rel: &Rel, out: &mut Vec<String>) {
    let Some(rel_type) = &rel.rel_type else { return };
    match rel_type {
        RelType::ExtensionSingle(ext) => {
            if let Some(detail) = &ext.detail {
                if detail.type_url == UNNEST_TYPE_URL {
                    out.push(match UnnestPayload::from_bytes(&detail.value) {
                        Ok(p) => serde_json::to_string(&p).unwrap_or_default(),
                        Err(e) => format!("<{e}>"),
                    });
                }
            }
            if let Some(input) = &ext.input {
                collect_unnests(input, out);
            }
        }
        RelType::Project(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Filter(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Fetch(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Aggregate(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Sort(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Join(r) => {
            r.left.iter().for_each(|i| collect_unnests(i, out));
            r.right.iter().for_each(|i| collect_unnests(i, out));
        }
        RelType::Cross(r) => {
            r.left.iter().for_each(|i| collect_unnests(i, out));
            r.right.iter().for_each(|i| collect_unnests(i, out));
        }
        RelType::Set(r) => r.inputs.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Window(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Exchange(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        RelType::Expand(r) => r.input.iter().for_each(|i| collect_unnests(i, out)),
        _ => {}
    }
}

/// The plan as protobuf JSON (canonical Substrait JSON).
pub fn plan_to_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("Substrait plans serialize")
}
