//! Substrait: the artifact that runs.
//!
//! [`to_substrait`] encodes a canonical plan with DataFusion's producer plus rulec's
//! extensions, refusing plans it cannot encode faithfully ([`faithful`]); [`from_substrait`]
//! turns a Substrait plan back into a DataFusion plan with the matching consumer.
//!
//! Functions are declared under the Substrait standard extensions (URN and compound name)
//! where DataFusion's function is the standard one, and under rulec's extension otherwise
//! ([`functions`]); the consumer reads both, and plans without URNs as DataFusion writes them.
//!
//! The rulec Unnest extension: DataFusion 55.2's producer has no encoding for
//! `LogicalPlan::Unnest`, so rulec writes it as an `ExtensionSingleRel` whose `detail` is a
//! protobuf `Any` with type URL [`unnest::UNNEST_TYPE_URL`] and a versioned JSON payload
//! ([`unnest::UnnestPayload`]). Columns are recorded by position in the input, because
//! Substrait keeps no names inside a plan.

mod consume;
mod faithful;
pub mod functions;
mod produce;
mod text;
pub mod unnest;

pub use consume::{RulecConsumer, from_substrait};
pub use faithful::check_encodable;
pub use produce::{to_substrait, warm_up};
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

/// The protobuf bytes of a plan, with its extensions declared twice: by URN (Substrait
/// 0.75 on) and by URI, in the fields Substrait had before URNs (`extension_uris`, and each
/// declaration's `extension_uri_reference`; field 1 in both messages, reserved since). Until
/// 0.85 the specification carried both; consumers of older versions (Arrow Acero, the
/// Substrait validator) read only URIs, newer ones only URNs. The URI anchors are the URN
/// anchors. Decoding drops the URIs again.
pub fn encode(plan: &Plan) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    use substrait::proto::extensions::simple_extension_declaration::MappingType;
    fn length_delimited(field: u32, body: &[u8], out: &mut Vec<u8>) {
        encode_key(field, WireType::LengthDelimited, out);
        encode_varint(body.len() as u64, out);
        out.extend_from_slice(body);
    }
    fn with_uri_reference(message: &impl Message, reference: u32) -> Vec<u8> {
        let mut body = message.encode_to_vec();
        encode_key(1, WireType::Varint, &mut body);
        encode_varint(u64::from(reference), &mut body);
        body
    }
    let mut without_declarations = plan.clone();
    let declarations = std::mem::take(&mut without_declarations.extensions);
    let mut out = without_declarations.encode_to_vec();
    for urn in &plan.extension_urns {
        let Some(uri) = functions::legacy_uri(&urn.urn) else {
            continue;
        };
        let mut body = Vec::new();
        encode_key(1, WireType::Varint, &mut body);
        encode_varint(u64::from(urn.extension_urn_anchor), &mut body);
        prost::encoding::string::encode(2, &uri, &mut body);
        length_delimited(1, &body, &mut out);
    }
    for declaration in &declarations {
        let mut body = Vec::new();
        match &declaration.mapping_type {
            Some(MappingType::ExtensionType(t)) => {
                length_delimited(
                    1,
                    &with_uri_reference(t, t.extension_urn_reference),
                    &mut body,
                );
            }
            Some(MappingType::ExtensionTypeVariation(v)) => {
                length_delimited(
                    2,
                    &with_uri_reference(v, v.extension_urn_reference),
                    &mut body,
                );
            }
            Some(MappingType::ExtensionFunction(f)) => {
                length_delimited(
                    3,
                    &with_uri_reference(f, f.extension_urn_reference),
                    &mut body,
                );
            }
            None => {}
        }
        length_delimited(2, &body, &mut out);
    }
    out
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
