//! Substrait: the artifact that runs.
//!
//! [`to_substrait`] encodes a canonical plan with DataFusion's producer plus rulec's
//! extensions, refusing plans it cannot encode faithfully ([`faithful`]); [`from_substrait`]
//! turns a Substrait plan back into a DataFusion plan with the matching consumer.
//!
//! The rulec Unnest extension: DataFusion 55.2's producer has no encoding for
//! `LogicalPlan::Unnest`, so rulec writes it as an `ExtensionSingleRel` whose `detail` is a
//! protobuf `Any` with type URL [`unnest::UNNEST_TYPE_URL`] and a versioned JSON payload
//! ([`unnest::UnnestPayload`]). Columns are recorded by position in the input, because
//! Substrait keeps no names inside a plan.

mod consume;
mod faithful;
mod produce;
mod text;
pub mod unnest;

pub use consume::{RulecConsumer, from_substrait};
pub use faithful::check_encodable;
pub use produce::{RulecProducer, to_substrait, warm_up};
pub use text::{plan_to_json, plan_to_text};

pub use datafusion_substrait::substrait;

use prost::Message;
use substrait::proto::Plan;

/// Errors of this crate. Planning errors carry the engine's message.
#[derive(Debug)]
pub enum SubstraitError {
    /// The plan holds something rulec will not encode (it would run differently).
    Unencodable(String),
    /// The bytes are not a Substrait plan, or the plan is not one rulec can consume.
    Invalid(String),
    /// The engine failed.
    Engine(datafusion::error::DataFusionError),
}

impl std::fmt::Display for SubstraitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubstraitError::Unencodable(m) => write!(f, "cannot encode as Substrait: {m}"),
            SubstraitError::Invalid(m) => write!(f, "invalid Substrait plan: {m}"),
            SubstraitError::Engine(e) => write!(f, "{}", rulec_compile::clean_message(e)),
        }
    }
}

impl std::error::Error for SubstraitError {}

impl From<datafusion::error::DataFusionError> for SubstraitError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        SubstraitError::Engine(e)
    }
}

/// The protobuf bytes of a plan.
pub fn encode(plan: &Plan) -> Vec<u8> {
    plan.encode_to_vec()
}

/// Reads protobuf bytes as a plan.
pub fn decode(bytes: &[u8]) -> Result<Plan, SubstraitError> {
    Plan::decode(bytes).map_err(|e| SubstraitError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests;

/// Checks that a compiled rule can be encoded as Substrait, adding an `E001
/// unencodable-plan` diagnostic when it cannot; `text` is the rule's source, so that the
/// diagnostic can point at the construct.
pub fn check_encodable_rule(rule: &mut rulec_compile::CompiledRule, text: &str) {
    let Some(plan) = &rule.plan else { return };
    if let Err(err) = to_substrait(plan) {
        let message = err.to_string();
        let span = locate_construct(text, &message);
        rule.diagnostics.push(
            rulec_diagnostics::Diagnostic::error(rulec_diagnostics::codes::UNENCODABLE_PLAN, message)
                .in_file(rule.file.clone())
                .at_opt(span)
                .with_help("rewrite the construct: rulec runs the Substrait plan, and will not run one that means something else"),
        );
    }
}

/// Finds the SQL construct an encoding error names in the rule text (outside comments).
fn locate_construct(text: &str, message: &str) -> Option<rulec_diagnostics::Span> {
    // (what the message names, the tokens that spell it in SQL); longer names first.
    let constructs: &[(&str, &[&str])] = &[
        ("IGNORE NULLS", &["IGNORE", "NULLS"]),
        ("DISTINCT ON", &["DISTINCT", "ON"]),
        ("RECURSIVE", &["RECURSIVE"]),
        ("FILTER", &["FILTER"]),
        ("DISTINCT", &["DISTINCT"]),
        ("IN (SELECT", &["IN", "(", "SELECT"]),
        ("EXISTS", &["EXISTS"]),
        ("ANY/ALL", &["ANY"]),
        ("ANY/ALL", &["ALL"]),
    ];
    constructs
        .iter()
        .filter(|(name, _)| message.contains(name))
        .find_map(|(_, tokens)| {
            rulec_syntax::find_keywords(text, rulec_syntax::SqlDialect::DataFusion, tokens)
        })
}
