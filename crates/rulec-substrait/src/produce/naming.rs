//! Which declaration each function call of a plan gets: the first pass's record of the
//! calls DataFusion's producer registers, resolved from their argument types.

use super::RulecProducer;
use crate::functions::{self, Declared};
use datafusion::common::DFSchemaRef;
use datafusion::logical_expr::{Expr, ExprSchemable as _};
use datafusion_substrait::substrait::proto::aggregate_rel::Measure;
use datafusion_substrait::substrait::proto::expression::RexType;
use datafusion_substrait::substrait::proto::function_argument::ArgType;
use datafusion_substrait::substrait::proto::{AggregationPhase, Expression};

/// How a pass names functions.
pub(super) enum Naming {
    /// The first pass: every call gets its own anchor (its index), and is resolved to a
    /// declaration once its arguments are encoded.
    Record(Vec<Call>),
    /// The second pass: the `n`th call gets the anchor `calls[n]` records, if it registers
    /// the function the first pass's `n`th call did (else the passes diverged).
    Replay {
        calls: Vec<(u32, String)>,
        next: usize,
        diverged: bool,
    },
}

/// A function DataFusion's producer registered, by its name, and how the plan declares it.
pub(super) struct Call {
    pub(super) datafusion_name: String,
    pub(super) declared: Option<Declared>,
}

impl RulecProducer {
    /// In the first pass, declares every function of `expression` not yet declared, from
    /// its encoded arguments; `schema` holds the columns its field references name. Only
    /// functions whose arguments are encoded already are left: a nested expression's
    /// own are declared when it is encoded, so the walk stops at declared functions.
    pub(super) fn declare_pending(&mut self, expression: &Expression, schema: &DFSchemaRef) {
        let Naming::Record(calls) = &mut self.naming else {
            return;
        };
        declare_in(calls, expression, schema);
    }
}

impl RulecProducer {
    /// An encoded aggregate of `expr` (over `schema`) as the standard wants it: with its
    /// output type and its phase (one aggregation from input to result; DataFusion's
    /// producer leaves both out), and, in the first pass, its function declared.
    pub(super) fn complete_measure(
        &mut self,
        measure: &mut Measure,
        expr: &Expr,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<()> {
        let Some(aggregate) = measure.measure.as_mut() else {
            return Ok(());
        };
        let (_, output) = expr.to_field(schema)?;
        aggregate.output_type =
            Some(self.substrait_type(output.data_type(), output.is_nullable())?);
        aggregate.phase = AggregationPhase::InitialToResult as i32;
        if let Naming::Record(calls) = &mut self.naming {
            let anchor = aggregate.function_reference as usize;
            if let Some(call) = calls.get_mut(anchor)
                && call.declared.is_none()
            {
                // The types DataFusion gives the arguments (a CASE's too).
                let types = match expr.clone().unalias_nested().data {
                    Expr::AggregateFunction(f)
                        if f.params.args.len() == aggregate.arguments.len() =>
                    {
                        data_fusion_types(&f.params.args.iter().collect::<Vec<_>>(), schema)
                    }
                    _ => aggregate
                        .arguments
                        .iter()
                        .map(|a| match &a.arg_type {
                            Some(ArgType::Value(value)) => {
                                functions::argument_short_name(value, &|i| {
                                    (i < schema.fields().len())
                                        .then(|| schema.field(i).data_type().clone())
                                })
                            }
                            _ => None,
                        })
                        .collect(),
                };
                call.declared = Some(functions::declare(&call.datafusion_name, &types));
            }
        }
        Ok(())
    }
}

impl RulecProducer {
    /// In the first pass, declares the function `expression` (the encoding of `expr`) calls
    /// at its top, by the types DataFusion gives `expr`'s arguments (known where the
    /// encoding's are not: a CASE, a nested field).
    pub(super) fn declare_top(
        &mut self,
        expr: &Expr,
        expression: &Expression,
        schema: &DFSchemaRef,
    ) {
        let Naming::Record(calls) = &mut self.naming else {
            return;
        };
        let (anchor, encoded) = match expression.rex_type.as_ref() {
            Some(RexType::ScalarFunction(f)) => (f.function_reference, &f.arguments),
            Some(RexType::WindowFunction(f)) => (f.function_reference, &f.arguments),
            _ => return,
        };
        let Some(call) = calls.get_mut(anchor as usize) else {
            return;
        };
        if call.declared.is_some() {
            return;
        }
        let arguments: Vec<&Expr> = match expr {
            Expr::BinaryExpr(b) => vec![b.left.as_ref(), b.right.as_ref()],
            Expr::ScalarFunction(f) => f.args.iter().collect(),
            Expr::WindowFunction(w) => w.params.args.iter().collect(),
            _ => return,
        };
        if arguments.len() != encoded.len() {
            return;
        }
        // The encoded argument's type where the encoding says it (a literal may be written
        // as another type than DataFusion's), else DataFusion's.
        let types: Vec<Option<String>> = data_fusion_types(&arguments, schema)
            .into_iter()
            .zip(encoded)
            .map(|(df, argument)| {
                let encoded = match &argument.arg_type {
                    Some(ArgType::Value(value)) => functions::argument_short_name(value, &|_| None),
                    _ => None,
                };
                encoded.or(df)
            })
            .collect();
        call.declared = Some(functions::declare(&call.datafusion_name, &types));
    }
}

/// The short type names of DataFusion expressions over `schema`.
fn data_fusion_types(arguments: &[&Expr], schema: &DFSchemaRef) -> Vec<Option<String>> {
    arguments
        .iter()
        .map(|a| {
            a.get_type(schema)
                .ok()
                .and_then(|t| functions::data_type_short_name(&t))
                .map(str::to_owned)
        })
        .collect()
}

fn declare_in(calls: &mut [Call], expression: &Expression, schema: &DFSchemaRef) {
    let (anchor, arguments) = match expression.rex_type.as_ref() {
        Some(RexType::ScalarFunction(f)) => (f.function_reference, &f.arguments),
        Some(RexType::WindowFunction(f)) => (f.function_reference, &f.arguments),
        _ => return,
    };
    let Some(call) = calls.get(anchor as usize) else {
        return;
    };
    if call.declared.is_some() {
        return;
    }
    let mut types = Vec::with_capacity(arguments.len());
    for argument in arguments {
        match &argument.arg_type {
            Some(ArgType::Value(value)) => {
                declare_in(calls, value, schema);
                types.push(functions::argument_short_name(value, &|i| {
                    (i < schema.fields().len()).then(|| schema.field(i).data_type().clone())
                }));
            }
            _ => types.push(None),
        }
    }
    let call = &mut calls[anchor as usize];
    call.declared = Some(functions::declare(&call.datafusion_name, &types));
}
