//! The producer: DataFusion's, plus the rulec Unnest extension and USING joins.

use crate::SubstraitError;
use crate::faithful::check_encodable;
use crate::unnest::{UNNEST_TYPE_URL, UnnestPayload};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::ScalarValue;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, Join, JoinConstraint, JoinType, LogicalPlan};
use datafusion_substrait::extensions::Extensions;
use datafusion_substrait::logical_plan::producer::{
    DefaultSubstraitProducer, SubstraitProducer, from_join, to_substrait_rel,
};
use datafusion_substrait::substrait::proto::rel::RelType;
use datafusion_substrait::substrait::proto::{
    ExtensionSingleRel, Plan, PlanRel, Rel, RelRoot, plan_rel,
};
use datafusion_substrait::substrait::version;
use pbjson_types::Any;
use std::sync::LazyLock;

/// DataFusion's producer with rulec's extensions.
pub struct RulecProducer<'a> {
    inner: DefaultSubstraitProducer<'a>,
}

impl<'a> RulecProducer<'a> {
    pub fn new(state: &'a SessionState) -> Self {
        RulecProducer {
            inner: DefaultSubstraitProducer::new(state),
        }
    }
}

impl SubstraitProducer for RulecProducer<'_> {
    fn register_function(&mut self, signature: String) -> u32 {
        self.inner.register_function(signature)
    }

    fn register_type(&mut self, name: String) -> u32 {
        self.inner.register_type(name)
    }

    fn get_extensions(self) -> Extensions {
        self.inner.get_extensions()
    }

    fn handle_plan(&mut self, plan: &LogicalPlan) -> datafusion::common::Result<Box<Rel>> {
        match plan {
            LogicalPlan::Unnest(unnest) => {
                let payload = UnnestPayload::from_unnest(unnest)
                    .map_err(datafusion::error::DataFusionError::Plan)?;
                let input = self.handle_plan(&unnest.input)?;
                Ok(Box::new(Rel {
                    rel_type: Some(RelType::ExtensionSingle(Box::new(ExtensionSingleRel {
                        common: None,
                        detail: Some(Any {
                            type_url: UNNEST_TYPE_URL.to_owned(),
                            value: payload.to_bytes().into(),
                        }),
                        input: Some(input),
                    }))),
                }))
            }
            _ => to_substrait_rel(self, plan),
        }
    }

    fn handle_join(&mut self, join: &Join) -> datafusion::common::Result<Box<Rel>> {
        // A USING join's keys are already in `on`, and its output keeps both sides' columns
        // (the projection above removes duplicates), so it is encoded exactly as ON.
        let using = join.join_constraint == JoinConstraint::Using;
        // A join other than inner left without keys or filter (`x IN (SELECT ...)` with a
        // constant `x`, an uncorrelated EXISTS, `LEFT JOIN ... ON TRUE`) gets the condition
        // TRUE: Substrait's join needs one, and the consumer refuses a join without.
        let unconditioned =
            join.on.is_empty() && join.filter.is_none() && join.join_type != JoinType::Inner;
        if using || unconditioned {
            let mut encoded = join.clone();
            encoded.join_constraint = JoinConstraint::On;
            if unconditioned {
                encoded.filter = Some(Expr::Literal(ScalarValue::Boolean(Some(true)), None));
            }
            return from_join(self, &encoded);
        }
        from_join(self, join)
    }
}

static PRODUCER_STATE: LazyLock<SessionState> =
    LazyLock::new(|| datafusion::execution::SessionStateBuilder::new().build());

/// Builds the producer's one-time state now (a session: about a millisecond), so that a
/// caller can do it on another thread while it reads files.
pub fn warm_up() {
    LazyLock::force(&PRODUCER_STATE);
}

/// Encodes a canonical plan as a Substrait plan, or says why it cannot.
pub fn to_substrait(plan: &LogicalPlan) -> Result<Plan, SubstraitError> {
    check_encodable(plan).map_err(SubstraitError::Unencodable)?;
    let mut producer = RulecProducer::new(&PRODUCER_STATE);
    let root = producer
        .handle_plan(plan)
        .map_err(|e| SubstraitError::Unencodable(rulec_compile::clean_message(&e)))?;
    let mut names = Vec::new();
    for field in plan.schema().fields() {
        flatten_names(field, false, &mut names);
    }
    let extensions = producer.get_extensions();
    Ok(Plan {
        version: Some(version::version_with_producer("rulec")),
        extension_urns: vec![],
        extensions: extensions.into(),
        relations: vec![PlanRel {
            rel_type: Some(plan_rel::RelType::Root(RelRoot {
                input: Some(*root),
                names,
            })),
        }],
        advanced_extensions: None,
        expected_type_urls: vec![],
        parameter_bindings: vec![],
        type_aliases: vec![],
    })
}

/// The root's names: every field name depth-first, including nested struct fields (the
/// order Substrait's `NamedStruct` uses; list items and map entries have no names).
fn flatten_names(field: &Field, skip_self: bool, names: &mut Vec<String>) {
    if !skip_self {
        names.push(field.name().clone());
    }
    match field.data_type() {
        DataType::Struct(fields) => {
            for f in fields {
                flatten_names(f, false, names);
            }
        }
        DataType::List(item) | DataType::LargeList(item) => flatten_names(item, true, names),
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type() {
                for f in kv {
                    flatten_names(f, true, names);
                }
            }
        }
        _ => {}
    }
}
