//! The producer: DataFusion's, plus the rulec Unnest extension, USING joins and portable
//! function declarations ([`crate::functions`]).
//!
//! A plan is produced twice. The first pass records, for each function DataFusion's
//! producer registers, how the plan declares it: the standard or rulec extension and the
//! compound name, from the argument types at that call. The second pass, making the same
//! calls in the same order, gives each call the anchor of its declaration, so a plan
//! declares each function once and only the functions it calls.

use crate::SubstraitError;
use crate::faithful::check_encodable;
use crate::functions::{self, Declared, RULEC_URN};
use crate::unnest::{UNNEST_TYPE_URL, UnnestPayload};
use datafusion::arrow::datatypes::{DataType, Field, IntervalDayTime};
use datafusion::common::{DFSchemaRef, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, Case, InList, ScalarFunction};
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, Expr, ExprSchemable as _, Join, JoinConstraint, Like, Limit,
    LogicalPlan, Operator, Projection, TableScan, Union,
};
use datafusion_substrait::extensions::Extensions;
use datafusion_substrait::logical_plan::producer::{
    SubstraitProducer, from_aggregate, from_aggregate_function, from_binary_expr, from_case,
    from_in_list, from_join, from_like, from_limit, from_literal, from_projection,
    from_scalar_function, from_table_scan, from_union, to_substrait_rel, to_substrait_rex,
};
use datafusion_substrait::substrait::proto::aggregate_rel::Measure;
use datafusion_substrait::substrait::proto::expression::literal::LiteralType;
use datafusion_substrait::substrait::proto::expression::{Literal, RexType};
use datafusion_substrait::substrait::proto::extensions::simple_extension_declaration::{
    ExtensionFunction, ExtensionType, ExtensionTypeVariation, MappingType,
};
use datafusion_substrait::substrait::proto::extensions::{
    SimpleExtensionDeclaration, SimpleExtensionUrn,
};
use datafusion_substrait::substrait::proto::function_argument::ArgType;
use datafusion_substrait::substrait::proto::rel::RelType;
use datafusion_substrait::substrait::proto::{
    Expression, ExtensionSingleRel, FunctionArgument, Plan, PlanRel, ProjectRel, Rel, RelCommon,
    RelRoot, fetch_rel, plan_rel, rel_common,
};
use datafusion_substrait::substrait::version;
use pbjson_types::Any;
use std::collections::{BTreeMap, BTreeSet};

mod naming;
mod standard;

use naming::{Call, Naming};
use standard::{constant_i64, field_reference, flatten_chain, without_null_escape};

/// DataFusion's producer with rulec's extensions.
struct RulecProducer {
    naming: Naming,
    /// User-defined types DataFusion's producer registers (`null`, `fp16`), by name.
    types: Vec<String>,
    /// Whether the plan holds the rulec Unnest relation.
    unnests: bool,
}

impl RulecProducer {
    fn new(naming: Naming) -> Self {
        RulecProducer {
            naming,
            types: Vec::new(),
            unnests: false,
        }
    }
}

impl SubstraitProducer for RulecProducer {
    fn register_function(&mut self, name: String) -> u32 {
        match &mut self.naming {
            Naming::Record(calls) => {
                calls.push(Call {
                    datafusion_name: name,
                    declared: None,
                });
                u32::try_from(calls.len() - 1).unwrap_or(u32::MAX)
            }
            Naming::Replay {
                calls,
                next,
                diverged,
            } => {
                let anchor = match calls.get(*next) {
                    Some((anchor, recorded)) if *recorded == name => *anchor,
                    _ => {
                        *diverged = true;
                        u32::MAX
                    }
                };
                *next += 1;
                anchor
            }
        }
    }

    fn register_type(&mut self, name: String) -> u32 {
        let position = match self.types.iter().position(|t| *t == name) {
            Some(position) => position,
            None => {
                self.types.push(name);
                self.types.len() - 1
            }
        };
        // Type anchors follow the function anchors' 1-based convention.
        u32::try_from(position + 1).unwrap_or(u32::MAX)
    }

    fn get_extensions(self) -> Extensions {
        // Declarations are made by `to_substrait` from the calls; DataFusion's are unused.
        Extensions::default()
    }

    fn handle_plan(&mut self, plan: &LogicalPlan) -> datafusion::common::Result<Box<Rel>> {
        match plan {
            LogicalPlan::Unnest(unnest) => {
                self.unnests = true;
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

    fn handle_expr(
        &mut self,
        expr: &Expr,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Expression> {
        let mut expression = to_substrait_rex(self, expr, schema)?;
        // A function DataFusion's producer gives no output type (LIKE, NOT of it): the
        // expression's, which the standard requires and signatures of its readers need.
        let output_type = match expression.rex_type.as_mut() {
            Some(RexType::ScalarFunction(f)) => Some(&mut f.output_type),
            Some(RexType::WindowFunction(f)) => Some(&mut f.output_type),
            _ => None,
        };
        if let Some(slot) = output_type
            && slot.is_none()
        {
            let (_, field) = expr.to_field(schema)?;
            *slot = Some(self.substrait_type(field.data_type(), field.is_nullable())?);
        }
        self.declare_top(expr, &expression, schema);
        self.declare_pending(&expression, schema);
        Ok(expression)
    }

    fn handle_scalar_function(
        &mut self,
        function: &ScalarFunction,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Expression> {
        if let Some(expression) = self.extract(function, schema)? {
            return Ok(expression);
        }
        from_scalar_function(self, function, schema)
    }

    fn handle_in_list(
        &mut self,
        in_list: &InList,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Expression> {
        let mut expression = from_in_list(self, in_list, schema)?;
        // Each option's type is the value's, nullability included (the standard requires
        // it; DataFusion's producer writes literal options as required).
        if in_list.expr.nullable(schema)? {
            let list = match expression.rex_type.as_mut() {
                Some(RexType::SingularOrList(list)) => Some(list.as_mut()),
                Some(RexType::ScalarFunction(not)) => {
                    match not.arguments.first_mut().and_then(|a| a.arg_type.as_mut()) {
                        Some(ArgType::Value(Expression {
                            rex_type: Some(RexType::SingularOrList(list)),
                        })) => Some(list.as_mut()),
                        _ => None,
                    }
                }
                _ => None,
            };
            for option in list.into_iter().flat_map(|l| l.options.iter_mut()) {
                if let Some(RexType::Literal(literal)) = option.rex_type.as_mut() {
                    literal.nullable = true;
                }
            }
        }
        Ok(expression)
    }

    fn handle_case(
        &mut self,
        case: &Case,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Expression> {
        // `CASE x WHEN a THEN …` as `CASE WHEN x = a THEN …`: DataFusion's producer writes the
        // operand as a clause without a result, which the standard has no reading of.
        let Some(operand) = &case.expr else {
            return from_case(self, case, schema);
        };
        let searched = Case {
            expr: None,
            when_then_expr: case
                .when_then_expr
                .iter()
                .map(|(when, then)| {
                    (
                        Box::new(Expr::BinaryExpr(BinaryExpr::new(
                            operand.clone(),
                            Operator::Eq,
                            when.clone(),
                        ))),
                        then.clone(),
                    )
                })
                .collect(),
            else_expr: case.else_expr.clone(),
        };
        from_case(self, &searched, schema)
    }

    fn handle_binary_expr(
        &mut self,
        binary: &BinaryExpr,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Expression> {
        // A chain of ANDs (ORs) as one variadic `and` (`or`): as the standard declares them,
        // and a plan of a few levels where the binary tree would nest a level per operand
        // (protobuf decoders stop at 100 levels).
        if !matches!(binary.op, Operator::And | Operator::Or) {
            return from_binary_expr(self, binary, schema);
        }
        let mut operands = Vec::new();
        flatten_chain(binary, binary.op, &mut operands);
        let mut arguments = Vec::with_capacity(operands.len());
        for operand in operands {
            arguments.push(FunctionArgument {
                arg_type: Some(ArgType::Value(self.handle_expr(operand, schema)?)),
            });
        }
        let name = if binary.op == Operator::And {
            "and"
        } else {
            "or"
        };
        let anchor = self.register_function(name.to_owned());
        let (_, output) = Expr::BinaryExpr(binary.clone()).to_field(schema)?;
        let output_type = self.substrait_type(output.data_type(), output.is_nullable())?;
        Ok(Expression {
            rex_type: Some(RexType::ScalarFunction(
                datafusion_substrait::substrait::proto::expression::ScalarFunction {
                    function_reference: anchor,
                    arguments,
                    output_type: Some(output_type),
                    ..Default::default()
                },
            )),
        })
    }

    fn handle_table_scan(&mut self, scan: &TableScan) -> datafusion::common::Result<Box<Rel>> {
        let mut rel = from_table_scan(self, scan)?;
        // A read's projection gives a struct of the columns, one column too.
        if let Some(RelType::Read(read)) = rel.rel_type.as_mut()
            && let Some(projection) = read.projection.as_mut()
        {
            projection.maintain_singular_struct = true;
        }
        Ok(rel)
    }

    fn handle_projection(
        &mut self,
        projection: &Projection,
    ) -> datafusion::common::Result<Box<Rel>> {
        let mut rel = from_projection(self, projection)?;
        // A projection of no column (what `count(*)` reads) as one that computes a constant
        // and emits nothing: the standard wants at least one expression.
        if let Some(RelType::Project(project)) = rel.rel_type.as_mut()
            && project.expressions.is_empty()
        {
            project.expressions.push(Expression {
                rex_type: Some(RexType::Literal(Literal {
                    literal_type: Some(LiteralType::Boolean(true)),
                    ..Literal::default()
                })),
            });
        }
        Ok(rel)
    }

    fn handle_union(&mut self, union: &Union) -> datafusion::common::Result<Box<Rel>> {
        let mut rel = from_union(self, union)?;
        // The standard wants every input of a set operation to have the output's types,
        // nullability included: an input with a required column where the union's is
        // nullable gets a projection that casts it.
        let Some(RelType::Set(set)) = rel.rel_type.as_mut() else {
            return Ok(rel);
        };
        let output = union.schema.fields();
        for (encoded, input) in set.inputs.iter_mut().zip(&union.inputs) {
            let fields = input.schema().fields();
            if fields
                .iter()
                .zip(output.iter())
                .all(|(a, b)| a.is_nullable() == b.is_nullable())
            {
                continue;
            }
            let mut expressions = Vec::with_capacity(fields.len());
            for (i, (field, out)) in fields.iter().zip(output.iter()).enumerate() {
                let reference = field_reference(i);
                expressions.push(if field.is_nullable() == out.is_nullable() {
                    reference
                } else {
                    Expression {
                        rex_type: Some(RexType::Cast(Box::new(
                            datafusion_substrait::substrait::proto::expression::Cast {
                                r#type: Some(
                                    self.substrait_type(field.data_type(), out.is_nullable())?,
                                ),
                                input: Some(Box::new(reference)),
                                failure_behavior: 0,
                            },
                        ))),
                    }
                });
            }
            let width = fields.len() as i32;
            let inner = std::mem::take(encoded);
            *encoded = Rel {
                rel_type: Some(RelType::Project(Box::new(ProjectRel {
                    common: Some(RelCommon {
                        emit_kind: Some(rel_common::EmitKind::Emit(rel_common::Emit {
                            output_mapping: (width..2 * width).collect(),
                        })),
                        ..RelCommon::default()
                    }),
                    input: Some(Box::new(inner)),
                    expressions,
                    advanced_extension: None,
                }))),
            };
        }
        Ok(rel)
    }

    fn handle_literal(&mut self, value: &ScalarValue) -> datafusion::common::Result<Expression> {
        // An interval of days and whole milliseconds as the standard's `interval_day` (its
        // compound interval literal is newer than most consumers).
        if let ScalarValue::IntervalMonthDayNano(Some(interval)) = value
            && interval.months == 0
            && interval.nanoseconds % 1_000_000 == 0
            && let Ok(milliseconds) = i32::try_from(interval.nanoseconds / 1_000_000)
        {
            let day_time = ScalarValue::IntervalDayTime(Some(IntervalDayTime::new(
                interval.days,
                milliseconds,
            )));
            return from_literal(self, &day_time);
        }
        from_literal(self, value)
    }

    fn handle_like(
        &mut self,
        like: &Like,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Expression> {
        let mut expression = from_like(self, like, schema)?;
        if like.escape_char.is_none() {
            without_null_escape(&mut expression);
        }
        // NOT LIKE: the LIKE under the NOT is a boolean too (the NOT's type is set by
        // `handle_expr`).
        if like.negated
            && let Some(RexType::ScalarFunction(not)) = expression.rex_type.as_mut()
            && let Some(ArgType::Value(inner)) =
                not.arguments.first_mut().and_then(|a| a.arg_type.as_mut())
            && let Some(RexType::ScalarFunction(f)) = inner.rex_type.as_mut()
            && f.output_type.is_none()
        {
            let nullable = like.expr.nullable(schema)? || like.pattern.nullable(schema)?;
            f.output_type = Some(self.substrait_type(&DataType::Boolean, nullable)?);
        }
        Ok(expression)
    }

    fn handle_aggregate(&mut self, aggregate: &Aggregate) -> datafusion::common::Result<Box<Rel>> {
        // DataFusion's producer encodes an aggregate relation's measures without
        // `handle_aggregate_function`: they are completed here.
        let mut rel = from_aggregate(self, aggregate)?;
        if let Some(RelType::Aggregate(encoded)) = rel.rel_type.as_mut() {
            let schema = aggregate.input.schema();
            for (measure, expr) in encoded.measures.iter_mut().zip(&aggregate.aggr_expr) {
                self.complete_measure(measure, expr, schema)?;
            }
        }
        Ok(rel)
    }

    fn handle_aggregate_function(
        &mut self,
        function: &AggregateFunction,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Measure> {
        let mut measure = from_aggregate_function(self, function, schema)?;
        self.complete_measure(
            &mut measure,
            &Expr::AggregateFunction(function.clone()),
            schema,
        )?;
        Ok(measure)
    }

    fn handle_limit(&mut self, limit: &Limit) -> datafusion::common::Result<Box<Rel>> {
        let mut rel = from_limit(self, limit)?;
        // A constant count and offset in the fields consumers before Substrait 0.6x read
        // (Acero reads no `count_expr`: it would fetch nothing).
        if let Some(RelType::Fetch(fetch)) = rel.rel_type.as_mut() {
            if let Some(fetch_rel::CountMode::CountExpr(e)) = &fetch.count_mode
                && let Some(n) = constant_i64(e)
            {
                #[expect(deprecated, reason = "read by consumers of older Substrait versions")]
                let count = fetch_rel::CountMode::Count(n);
                fetch.count_mode = Some(count);
            }
            if let Some(fetch_rel::OffsetMode::OffsetExpr(e)) = &fetch.offset_mode
                && let Some(n) = constant_i64(e)
            {
                #[expect(deprecated, reason = "read by consumers of older Substrait versions")]
                let offset = fetch_rel::OffsetMode::Offset(n);
                fetch.offset_mode = Some(offset);
            }
        }
        Ok(rel)
    }

    fn handle_join(&mut self, join: &Join) -> datafusion::common::Result<Box<Rel>> {
        // A USING join's keys are already in `on`, and its output keeps both sides' columns
        // (the projection above removes duplicates), so it is encoded exactly as ON.
        let using = join.join_constraint == JoinConstraint::Using;
        // A join without keys or filter (a cross join, `x IN (SELECT ...)` with a constant
        // `x`, an uncorrelated EXISTS, `LEFT JOIN ... ON TRUE`) gets the condition TRUE:
        // Substrait's join needs one, and the consumer refuses an outer join without.
        let unconditioned = join.on.is_empty() && join.filter.is_none();
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

/// Builds the producer's one-time state now (the standard signatures, read from the
/// Substrait YAMLs), so that a caller can do it on another thread while it reads files.
pub fn warm_up() {
    functions::warm_up();
}

/// Encodes a canonical plan as a Substrait plan, or says why it cannot.
pub fn to_substrait(plan: &LogicalPlan) -> Result<Plan, SubstraitError> {
    check_encodable(plan).map_err(SubstraitError::Unencodable)?;
    let unencodable = |e: datafusion::error::DataFusionError| {
        SubstraitError::Unencodable(rulec_compile::clean_message(&e))
    };
    // The first pass: how each call is declared.
    let mut recording = RulecProducer::new(Naming::Record(Vec::new()));
    recording.handle_plan(plan).map_err(unencodable)?;
    let Naming::Record(calls) = recording.naming else {
        unreachable!("the first pass records")
    };
    let names: Vec<String> = calls.iter().map(|c| c.datafusion_name.clone()).collect();
    let declared: Vec<Declared> = calls
        .into_iter()
        .map(|call| {
            // A call no expression declared (its arguments unknown): rulec's, by name.
            call.declared
                .unwrap_or_else(|| Declared::rulec(&call.datafusion_name))
        })
        .collect();
    let declarations: BTreeSet<&Declared> = declared.iter().collect();
    let mut urns: BTreeSet<&str> = declarations.iter().map(|d| d.urn.as_str()).collect();
    let anchor_of: BTreeMap<&Declared, u32> = declarations
        .iter()
        .zip(1u32..)
        .map(|(d, anchor)| (*d, anchor))
        .collect();
    // The second pass: the same calls, each with its declaration's anchor.
    let calls = declared.iter().map(|d| anchor_of[d]).zip(names).collect();
    let mut producer = RulecProducer::new(Naming::Replay {
        calls,
        next: 0,
        diverged: false,
    });
    let root = producer.handle_plan(plan).map_err(unencodable)?;
    if let Naming::Replay { next, diverged, .. } = producer.naming
        && (diverged || next != declared.len())
    {
        return Err(SubstraitError::Unencodable(format!(
            "the producer's second pass registered other functions than its first ({next} against {}): a bug in rulec",
            declared.len()
        )));
    }
    // DataFusion's type variations (unsigned integers, large and view layouts, ...), as
    // rulec's extension declares them.
    let variations = crate::functions::variations_used(plan);
    if !producer.types.is_empty() || !variations.is_empty() {
        urns.insert(RULEC_URN);
    }
    let urn_anchor: BTreeMap<&str, u32> = urns.iter().zip(1u32..).map(|(u, a)| (*u, a)).collect();
    let mut extensions: Vec<SimpleExtensionDeclaration> = anchor_of
        .iter()
        .map(|(declared, anchor)| SimpleExtensionDeclaration {
            mapping_type: Some(MappingType::ExtensionFunction(ExtensionFunction {
                extension_urn_reference: urn_anchor[declared.urn.as_str()],
                function_anchor: *anchor,
                name: declared.name.clone(),
            })),
        })
        .collect();
    extensions.extend(producer.types.iter().zip(1u32..).map(|(name, anchor)| {
        SimpleExtensionDeclaration {
            mapping_type: Some(MappingType::ExtensionType(ExtensionType {
                extension_urn_reference: urn_anchor[RULEC_URN],
                type_anchor: anchor,
                name: name.clone(),
            })),
        }
    }));
    extensions.extend(variations.iter().map(|anchor| SimpleExtensionDeclaration {
        mapping_type: Some(MappingType::ExtensionTypeVariation(
            ExtensionTypeVariation {
                extension_urn_reference: urn_anchor[RULEC_URN],
                type_variation_anchor: *anchor,
                name: crate::functions::variation_name(*anchor),
            },
        )),
    }));
    let mut names = Vec::new();
    for field in plan.schema().fields() {
        flatten_names(field, false, &mut names);
    }
    Ok(Plan {
        version: Some(version::version_with_producer("rulec")),
        extension_urns: urn_anchor
            .iter()
            .map(|(urn, anchor)| SimpleExtensionUrn {
                extension_urn_anchor: *anchor,
                urn: (*urn).to_owned(),
            })
            .collect(),
        extensions,
        relations: vec![PlanRel {
            rel_type: Some(plan_rel::RelType::Root(RelRoot {
                input: Some(*root),
                names,
            })),
        }],
        advanced_extensions: None,
        expected_type_urls: if producer.unnests {
            vec![UNNEST_TYPE_URL.to_owned()]
        } else {
            vec![]
        },
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
