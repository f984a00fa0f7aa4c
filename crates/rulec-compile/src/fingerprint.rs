//! Query fingerprints: `sha256:` + hex over a versioned, deterministic encoding of the
//! canonical plan.
//!
//! The hashed text is `rulec-fingerprint-v<FINGERPRINT_VERSION>`, the pipeline description
//! hash, then the plan's structural encoding (see [`crate::encode`]: output columns by name
//! and type, everything inside by position, aliases dropped). The same plan gives the same
//! text on every run, process and machine.

use crate::encode::encode_plan_structure;
use crate::pipeline::Pipeline;
use datafusion_expr::LogicalPlan;
use rulec_contract::sha256_hex;

/// The version of the fingerprint encoding.
pub const FINGERPRINT_VERSION: u32 = crate::encode::ENCODING_VERSION;

/// The text the fingerprint hashes (exposed for tests and for reviewers).
pub fn encode_plan(pipeline: &Pipeline, plan: &LogicalPlan) -> String {
    format!(
        "rulec-fingerprint-v{FINGERPRINT_VERSION}\npipeline {}\n{}",
        pipeline.description_hash(),
        encode_plan_structure(plan)
    )
}

/// `sha256:<hex>` of [`encode_plan`].
pub fn fingerprint(pipeline: &Pipeline, plan: &LogicalPlan) -> String {
    sha256_hex(encode_plan(pipeline, plan).as_bytes())
}
