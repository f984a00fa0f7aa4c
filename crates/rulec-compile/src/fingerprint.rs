//! Query fingerprints: sha256 over a versioned, deterministic encoding of the canonical plan.
//!
//! Encoding v1 (this version): the pipeline description hash, then the plan tree in
//! pre-order: for each node its depth and one-line rendering, its output fields (name, type
//! in the contract grammar, nullability), then the subqueries its expressions hold, then its
//! inputs. Nothing depends on pointers or hash-map order. The node rendering is
//! DataFusion's one-line `display()`, so fingerprints are versioned with the engine (the
//! engine version is in the pipeline description).

use crate::pipeline::Pipeline;
use datafusion_common::tree_node::TreeNodeRecursion;
use datafusion_expr::LogicalPlan;
use rulec_contract::{render_type, sha256_hex};
use std::fmt::Write as _;

/// The version of the fingerprint encoding.
pub const FINGERPRINT_VERSION: u32 = 1;

/// The encoding the fingerprint hashes (exposed for tests and `plan --show encoding`).
pub fn encode_plan(pipeline: &Pipeline, plan: &LogicalPlan) -> String {
    let mut out = format!(
        "rulec-fingerprint-v{FINGERPRINT_VERSION}\npipeline {}\n",
        pipeline.description_hash()
    );
    encode_node(plan, 0, &mut out);
    out
}

/// `sha256:<hex>` of [`encode_plan`].
pub fn fingerprint(pipeline: &Pipeline, plan: &LogicalPlan) -> String {
    sha256_hex(encode_plan(pipeline, plan).as_bytes())
}

fn encode_node(plan: &LogicalPlan, depth: usize, out: &mut String) {
    let _ = writeln!(out, "{depth} {}", plan.display());
    for field in plan.schema().fields() {
        let _ = writeln!(
            out,
            "{depth} : {} {} {}",
            field.name(),
            render_type(field.data_type()),
            if field.is_nullable() {
                "null"
            } else {
                "not-null"
            }
        );
    }
    let _ = plan.apply_subqueries(|sub| {
        let _ = writeln!(out, "{depth} subquery");
        encode_node(sub, depth + 2, out);
        Ok(TreeNodeRecursion::Continue)
    });
    for input in plan.inputs() {
        encode_node(input, depth + 1, out);
    }
}
