//! Query fingerprints: `sha256:` + hex over a versioned, deterministic encoding of the
//! canonical plan.
//!
//! The hashed text is `rulec-fingerprint-v<FINGERPRINT_VERSION>`, the pipeline description
//! hash, then the plan's structural encoding (see [`crate::encode`]: output columns by name
//! and type, everything inside by position, aliases dropped). The same plan gives the same
//! text on every run, process and machine.

use crate::encode::encode_plan_structure;
use crate::pipeline::Pipeline;
use datafusion_common::Column;
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
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

/// The fingerprint of `plan` projected onto its output column `name`, after the pipeline
/// (which prunes everything the column does not need): the identity of that column alone.
/// `None` when there is no such column or the projection cannot be planned.
pub fn column_fingerprint(pipeline: &Pipeline, plan: &LogicalPlan, name: &str) -> Option<String> {
    let schema = plan.schema();
    let index = schema.fields().iter().position(|f| f.name() == name)?;
    let (qualifier, field) = schema.qualified_field(index);
    let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
    projected_fingerprint(pipeline, plan, column)
}

/// The fingerprint of `plan` projected onto a constant: the identity of its rows alone
/// (how many there are), whatever their columns.
pub fn rows_fingerprint(pipeline: &Pipeline, plan: &LogicalPlan) -> Option<String> {
    projected_fingerprint(pipeline, plan, datafusion_expr::lit(1_i64).alias("row"))
}

fn projected_fingerprint(pipeline: &Pipeline, plan: &LogicalPlan, expr: Expr) -> Option<String> {
    let projected = LogicalPlanBuilder::from(plan.clone())
        .project(vec![expr])
        .and_then(LogicalPlanBuilder::build)
        .ok()?;
    let canonical = pipeline.run(projected, |_, _| {}).ok()?;
    Some(fingerprint(pipeline, &canonical))
}
