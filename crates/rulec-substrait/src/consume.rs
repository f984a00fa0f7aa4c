//! The consumer: DataFusion's, plus the rulec Unnest extension.

use crate::SubstraitError;
use crate::unnest::{UNNEST_TYPE_URL, UnnestPayload};
use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::common::{TableReference, plan_err};
use datafusion::execution::{FunctionRegistry, SessionState};
use datafusion::logical_expr::LogicalPlan;
use datafusion_substrait::extensions::Extensions;
use datafusion_substrait::logical_plan::consumer::{
    DefaultSubstraitConsumer, SubstraitConsumer, from_substrait_plan_with_consumer,
};
use datafusion_substrait::substrait::proto::{
    ExtensionLeafRel, ExtensionMultiRel, ExtensionSingleRel, Plan,
};
use std::sync::Arc;

/// DataFusion's consumer with rulec's extensions. Tables resolve through `state`'s catalog.
pub struct RulecConsumer<'a> {
    inner: DefaultSubstraitConsumer<'a>,
}

impl<'a> RulecConsumer<'a> {
    pub fn new(extensions: &'a Extensions, state: &'a SessionState) -> Self {
        RulecConsumer {
            inner: DefaultSubstraitConsumer::new(extensions, state),
        }
    }
}

#[async_trait]
impl SubstraitConsumer for RulecConsumer<'_> {
    async fn resolve_table_ref(
        &self,
        table_ref: &TableReference,
    ) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        self.inner.resolve_table_ref(table_ref).await
    }

    fn get_extensions(&self) -> &Extensions {
        self.inner.get_extensions()
    }

    fn get_function_registry(&self) -> &impl FunctionRegistry {
        self.inner.get_function_registry()
    }

    fn push_outer_schema(&self, schema: Arc<datafusion::common::DFSchema>) {
        self.inner.push_outer_schema(schema);
    }

    fn pop_outer_schema(&self) {
        self.inner.pop_outer_schema();
    }

    fn get_outer_schema(&self, steps_out: usize) -> Option<Arc<datafusion::common::DFSchema>> {
        self.inner.get_outer_schema(steps_out)
    }

    async fn consume_extension_single(
        &self,
        rel: &ExtensionSingleRel,
    ) -> datafusion::common::Result<LogicalPlan> {
        let Some(detail) = &rel.detail else {
            return plan_err!("ExtensionSingleRel without detail");
        };
        if detail.type_url != UNNEST_TYPE_URL {
            return plan_err!(
                "unknown Substrait extension `{}` (rulec knows `{UNNEST_TYPE_URL}`)",
                detail.type_url
            );
        }
        let payload = UnnestPayload::from_bytes(&detail.value)
            .map_err(datafusion::error::DataFusionError::Plan)?;
        let Some(input) = &rel.input else {
            return plan_err!("rulec Unnest extension without input");
        };
        let input = self.consume_rel(input).await?;
        payload
            .to_plan(input)
            .map_err(datafusion::error::DataFusionError::Plan)
    }

    async fn consume_extension_leaf(
        &self,
        rel: &ExtensionLeafRel,
    ) -> datafusion::common::Result<LogicalPlan> {
        let name = rel.detail.as_ref().map_or("", |d| d.type_url.as_str());
        plan_err!("unknown Substrait leaf extension `{name}`")
    }

    async fn consume_extension_multi(
        &self,
        rel: &ExtensionMultiRel,
    ) -> datafusion::common::Result<LogicalPlan> {
        let name = rel.detail.as_ref().map_or("", |d| d.type_url.as_str());
        plan_err!("unknown Substrait multi-input extension `{name}`")
    }
}

/// Turns a Substrait plan into a DataFusion plan; tables resolve through `state`.
pub async fn from_substrait(
    state: &SessionState,
    plan: &Plan,
) -> Result<LogicalPlan, SubstraitError> {
    let extensions = Extensions::try_from(&plan.extensions)?;
    if !extensions.type_variations.is_empty() {
        return Err(SubstraitError::Invalid(
            "type variation extensions are not supported".to_owned(),
        ));
    }
    let consumer = RulecConsumer::new(&extensions, state);
    Ok(from_substrait_plan_with_consumer(&consumer, plan).await?)
}
