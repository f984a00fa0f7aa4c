//! The consumer: DataFusion's, plus the rulec Unnest extension.

use crate::SubstraitError;
use crate::unnest::{UNNEST_TYPE_URL, UnnestPayload};
use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::common::{DFSchema, JoinType, TableReference, plan_err};
use datafusion::execution::{FunctionRegistry, SessionState};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, requalify_sides_if_needed};
use datafusion_substrait::extensions::Extensions;
use datafusion_substrait::logical_plan::consumer::{
    DefaultSubstraitConsumer, SubstraitConsumer, from_join_rel, from_read_rel,
    from_scalar_function, from_substrait_plan_with_consumer,
};
use datafusion_substrait::substrait::proto::expression::literal::LiteralType;
use datafusion_substrait::substrait::proto::expression::{Literal, RexType, ScalarFunction};
use datafusion_substrait::substrait::proto::extensions::SimpleExtensionDeclaration;
use datafusion_substrait::substrait::proto::extensions::simple_extension_declaration::MappingType;
use datafusion_substrait::substrait::proto::function_argument::ArgType;
use datafusion_substrait::substrait::proto::read_rel::ReadType;
use datafusion_substrait::substrait::proto::read_rel::local_files::file_or_files::PathType;
use datafusion_substrait::substrait::proto::{
    Expression, ExtensionLeafRel, ExtensionMultiRel, ExtensionSingleRel, FunctionArgument, JoinRel,
    Plan, ReadRel, join_rel,
};
use futures::FutureExt as _;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// DataFusion's consumer with rulec's extensions, sandboxed: a plan may read only the
/// tables registered in the session's default schema (a run registers the pack's declared
/// inputs and products there, nothing else), by name. Reads by path (`LocalFiles`),
/// extension and Iceberg tables, and names in any other catalog or schema are refused.
pub struct RulecConsumer<'a> {
    inner: DefaultSubstraitConsumer<'a>,
    /// The tables a plan may read: the session's default schema, when the consumer was made.
    readable: BTreeSet<String>,
    default_catalog: String,
    default_schema: String,
    /// Mark joins consumed so far: numbers their marked sides' aliases.
    mark_joins: AtomicUsize,
}

impl<'a> RulecConsumer<'a> {
    pub fn new(extensions: &'a Extensions, state: &'a SessionState) -> Self {
        let options = state.config_options();
        let default_catalog = options.catalog.default_catalog.clone();
        let default_schema = options.catalog.default_schema.clone();
        let readable = state
            .catalog_list()
            .catalog(&default_catalog)
            .and_then(|catalog| catalog.schema(&default_schema))
            .map(|schema| schema.table_names().into_iter().collect())
            .unwrap_or_default();
        RulecConsumer {
            inner: DefaultSubstraitConsumer::new(extensions, state),
            readable,
            default_catalog,
            default_schema,
            mark_joins: AtomicUsize::new(0),
        }
    }

    /// Whether a plan may read `table_ref`.
    fn may_read(&self, table_ref: &TableReference) -> bool {
        let in_default = match table_ref {
            TableReference::Bare { .. } => true,
            TableReference::Partial { schema, .. } => **schema == *self.default_schema,
            TableReference::Full {
                catalog, schema, ..
            } => **catalog == *self.default_catalog && **schema == *self.default_schema,
        };
        in_default && self.readable.contains(table_ref.table())
    }

    /// A mark join (`x IN (SELECT ...)` or `EXISTS` in a CASE, an OR or a projection, as
    /// DataFusion decorrelates them), consumed with its marked side under a unique alias.
    ///
    /// The join's `mark` column is qualified by its marked side's only qualifier, or by
    /// none (DataFusion's `build_join_schema`). The planned plan had the subquery's
    /// `__correlated_sq_N` alias there, but Substrait has no aliases: two mark joins over
    /// the same table, or over unqualified inputs, would give two `mark` columns of one
    /// name, which no schema holds. Plans refer to columns by position, so the alias
    /// changes no reference. The condition is the join's filter; the optimizer that runs
    /// before execution takes its equalities back out as join keys.
    async fn consume_mark_join(
        &self,
        rel: &JoinRel,
        join_type: JoinType,
    ) -> datafusion::common::Result<LogicalPlan> {
        if rel.post_join_filter.is_some() {
            return plan_err!("a join with a post-join filter");
        }
        let (Some(left), Some(right)) = (&rel.left, &rel.right) else {
            return plan_err!("a join without both inputs");
        };
        let mut left = LogicalPlanBuilder::from(self.consume_rel(left).await?);
        let mut right = LogicalPlanBuilder::from(self.consume_rel(right).await?);
        let alias = format!(
            "__rulec_mark_{}",
            self.mark_joins.fetch_add(1, Ordering::Relaxed)
        );
        if join_type == JoinType::LeftMark {
            right = right.alias(alias)?;
        } else {
            left = left.alias(alias)?;
        }
        let (left, right, _) = requalify_sides_if_needed(left, right)?;
        let condition = match &rel.expression {
            Some(expr) => {
                let in_join_schema = left.schema().join(right.schema())?;
                Some(self.consume_expression(expr, &in_join_schema).await?)
            }
            None => None,
        };
        left.join_on(right.build()?, join_type, condition)?.build()
    }
}

#[async_trait]
impl SubstraitConsumer for RulecConsumer<'_> {
    async fn resolve_table_ref(
        &self,
        table_ref: &TableReference,
    ) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        if !self.may_read(table_ref) {
            return plan_err!(
                "the plan reads table `{table_ref}`, which is not a declared input or product of the pack"
            );
        }
        self.inner.resolve_table_ref(table_ref).await
    }

    async fn consume_read(&self, rel: &ReadRel) -> datafusion::common::Result<LogicalPlan> {
        match &rel.read_type {
            Some(ReadType::NamedTable(_) | ReadType::VirtualTable(_)) => {
                from_read_rel(self, rel).await
            }
            Some(ReadType::LocalFiles(files)) => {
                let paths: Vec<String> = files
                    .items
                    .iter()
                    .filter_map(|item| match item.path_type.as_ref()? {
                        PathType::UriPath(p)
                        | PathType::UriPathGlob(p)
                        | PathType::UriFile(p)
                        | PathType::UriFolder(p) => Some(format!("`{p}`")),
                    })
                    .collect();
                plan_err!(
                    "the plan reads files by path ({}); plans read declared tables by name only",
                    paths.join(", ")
                )
            }
            Some(ReadType::ExtensionTable(_)) => {
                plan_err!(
                    "the plan reads an extension table; plans read declared tables by name only"
                )
            }
            Some(ReadType::IcebergTable(_)) => {
                plan_err!(
                    "the plan reads an Iceberg table; plans read declared tables by name only"
                )
            }
            None => plan_err!("a read relation without a read type"),
        }
    }

    async fn consume_join(&self, rel: &JoinRel) -> datafusion::common::Result<LogicalPlan> {
        match join_rel::JoinType::try_from(rel.r#type) {
            Ok(join_rel::JoinType::LeftMark) => {
                self.consume_mark_join(rel, JoinType::LeftMark).await
            }
            Ok(join_rel::JoinType::RightMark) => {
                self.consume_mark_join(rel, JoinType::RightMark).await
            }
            _ => from_join_rel(self, rel).await,
        }
    }

    async fn consume_scalar_function(
        &self,
        function: &ScalarFunction,
        input_schema: &DFSchema,
    ) -> datafusion::common::Result<Expr> {
        // The standard `extract(<COMPONENT>, d)` (an enumeration first) is DataFusion's
        // `date_part('<component>', d)` (a string first).
        let name = self
            .get_extensions()
            .functions
            .get(&function.function_reference);
        if name.is_some_and(|n| n == "date_part")
            && let Some(FunctionArgument {
                arg_type: Some(ArgType::Enum(component)),
            }) = function.arguments.first()
        {
            let mut call = function.clone();
            call.arguments[0] = FunctionArgument {
                arg_type: Some(ArgType::Value(Expression {
                    rex_type: Some(RexType::Literal(Literal {
                        literal_type: Some(LiteralType::String(component.to_ascii_lowercase())),
                        ..Literal::default()
                    })),
                })),
            };
            return from_scalar_function(self, &call, input_schema).await;
        }
        from_scalar_function(self, function, input_schema).await
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
    let extensions = Extensions::try_from(&datafusion_declarations(plan)?)?;
    // Type variations: DataFusion's, as rulec declares them (its consumer reads the
    // reference numbers its producer writes).
    for (anchor, name) in &extensions.type_variations {
        if *name != crate::functions::variation_name(*anchor)
            || !crate::functions::VARIATIONS
                .iter()
                .any(|(a, _)| a == anchor)
        {
            return Err(SubstraitError::Invalid(format!(
                "type variation `{name}` (anchor {anchor}) is not one rulec knows (it reads DataFusion's, `datafusion_1` and `datafusion_2`, at their own anchors)"
            )));
        }
    }
    let consumer = RulecConsumer::new(&extensions, state);
    // DataFusion's consumer panics on some malformed plans (a cast without input, a field
    // reference past its input's width; found by fuzzing): a plan is input, and a bad one
    // is an error, not a crash.
    let consumed = AssertUnwindSafe(from_substrait_plan_with_consumer(&consumer, plan))
        .catch_unwind()
        .await
        .map_err(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("the consumer failed");
            SubstraitError::Invalid(format!("malformed plan: {why}"))
        })?;
    Ok(consumed?)
}

/// The plan's extension declarations with each function named as DataFusion's consumer
/// knows it ([`crate::functions::datafusion_name`]): standard compound names mapped back to
/// DataFusion's functions, rulec's by name. A function whose URN reference is not declared
/// (DataFusion's producer writes `u32::MAX`) keeps its name.
fn datafusion_declarations(plan: &Plan) -> Result<Vec<SimpleExtensionDeclaration>, SubstraitError> {
    let urns: BTreeMap<u32, &str> = plan
        .extension_urns
        .iter()
        .map(|u| (u.extension_urn_anchor, u.urn.as_str()))
        .collect();
    let mut declarations = plan.extensions.clone();
    for declaration in &mut declarations {
        if let Some(MappingType::ExtensionFunction(function)) = &mut declaration.mapping_type {
            let urn = urns.get(&function.extension_urn_reference).copied();
            function.name = crate::functions::datafusion_name(urn, &function.name)
                .map_err(SubstraitError::Invalid)?;
        }
    }
    Ok(declarations)
}
