//! What the standard wants that DataFusion's producer writes otherwise: types it leaves
//! out, `extract`, flattened AND/OR chains, LIKE without an escape, constant fetches.

use super::{Naming, RulecProducer};
use crate::functions;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, DFSchemaRef, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable as _, Operator};
use datafusion_substrait::logical_plan::producer::{SubstraitProducer, to_substrait_rex};
use datafusion_substrait::substrait::proto::expression::literal::LiteralType;
use datafusion_substrait::substrait::proto::expression::{Literal, RexType};
use datafusion_substrait::substrait::proto::function_argument::ArgType;
use datafusion_substrait::substrait::proto::{Expression, FunctionArgument, Type};
use std::sync::Arc;

impl RulecProducer {
    /// The Substrait type DataFusion's producer writes for `data_type` (by way of a typed
    /// null literal: its type conversion is not public), with this nullability.
    pub(super) fn substrait_type(
        &mut self,
        data_type: &DataType,
        nullable: bool,
    ) -> datafusion::common::Result<Type> {
        let null = ScalarValue::try_from(data_type)?;
        let empty = Arc::new(DFSchema::empty());
        let literal = to_substrait_rex(self, &Expr::Literal(null, None), &empty)?;
        let Some(RexType::Literal(Literal {
            literal_type: Some(LiteralType::Null(mut t)),
            ..
        })) = literal.rex_type
        else {
            return datafusion::common::substrait_err!("no Substrait type for {data_type}");
        };
        set_nullability(&mut t, nullable);
        Ok(t)
    }
}

/// Sets the nullability of a type (of its outermost level).
pub(super) fn set_nullability(t: &mut Type, nullable: bool) {
    use datafusion_substrait::substrait::proto::r#type::{Kind, Nullability};
    let n = if nullable {
        Nullability::Nullable
    } else {
        Nullability::Required
    } as i32;
    macro_rules! set {
        ($($kind:ident),*) => {
            match t.kind.as_mut() {
                $(Some(Kind::$kind(k)) => k.nullability = n,)*
                _ => {}
            }
        };
    }
    set!(
        Bool,
        I8,
        I16,
        I32,
        I64,
        Fp32,
        Fp64,
        String,
        Binary,
        Date,
        IntervalYear,
        IntervalDay,
        IntervalCompound,
        FixedChar,
        Varchar,
        FixedBinary,
        Decimal,
        PrecisionTime,
        PrecisionTimestamp,
        PrecisionTimestampTz,
        Struct,
        List,
        Map,
        Uuid,
        UserDefined
    );
}

/// The value of an `i64` literal.
pub(super) fn constant_i64(expression: &Expression) -> Option<i64> {
    match expression.rex_type.as_ref()? {
        RexType::Literal(Literal {
            literal_type: Some(LiteralType::I64(n)),
            ..
        }) => Some(*n),
        _ => None,
    }
}

impl RulecProducer {
    /// `date_part('<component>', d)` as the standard `extract(<COMPONENT>, d)`, its first
    /// argument an enumeration, for the components that mean the same in both
    /// ([`functions::EXTRACT_COMPONENTS`]); `None` for any other call.
    pub(super) fn extract(
        &mut self,
        function: &ScalarFunction,
        schema: &DFSchemaRef,
    ) -> datafusion::common::Result<Option<Expression>> {
        let [component, value] = function.args.as_slice() else {
            return Ok(None);
        };
        if function.name() != "date_part" {
            return Ok(None);
        }
        let Expr::Literal(
            ScalarValue::Utf8(Some(name))
            | ScalarValue::Utf8View(Some(name))
            | ScalarValue::LargeUtf8(Some(name)),
            _,
        ) = component
        else {
            return Ok(None);
        };
        let Some((_, standard)) = functions::EXTRACT_COMPONENTS
            .iter()
            .find(|(df, _)| df.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        let encoded = self.handle_expr(value, schema)?;
        let anchor = self.register_function("date_part".to_owned());
        let (_, output) = Expr::ScalarFunction(function.clone()).to_field(schema)?;
        let output_type = self.substrait_type(output.data_type(), output.is_nullable())?;
        if let Naming::Record(calls) = &mut self.naming
            && let Some(call) = calls.get_mut(anchor as usize)
        {
            let types = [
                Some("req".to_owned()),
                value
                    .get_type(schema)
                    .ok()
                    .and_then(|t| functions::data_type_short_name(&t))
                    .map(str::to_owned),
            ];
            call.declared = Some(functions::declare("date_part", &types));
        }
        Ok(Some(Expression {
            rex_type: Some(RexType::ScalarFunction(
                datafusion_substrait::substrait::proto::expression::ScalarFunction {
                    function_reference: anchor,
                    arguments: vec![
                        FunctionArgument {
                            arg_type: Some(ArgType::Enum((*standard).to_owned())),
                        },
                        FunctionArgument {
                            arg_type: Some(ArgType::Value(encoded)),
                        },
                    ],
                    output_type: Some(output_type),
                    ..Default::default()
                },
            )),
        }))
    }
}

/// The operands of a chain of `op` (`a AND (b AND c)`: a, b, c), in order.
pub(super) fn flatten_chain<'e>(binary: &'e BinaryExpr, op: Operator, out: &mut Vec<&'e Expr>) {
    for side in [binary.left.as_ref(), binary.right.as_ref()] {
        match side {
            Expr::BinaryExpr(inner) if inner.op == op => flatten_chain(inner, op, out),
            other => out.push(other),
        }
    }
}

/// A reference to column `index` of the input.
pub(super) fn field_reference(index: usize) -> Expression {
    use datafusion_substrait::substrait::proto::expression::field_reference::{
        ReferenceType, RootReference, RootType,
    };
    use datafusion_substrait::substrait::proto::expression::{
        FieldReference, ReferenceSegment, reference_segment,
    };
    Expression {
        rex_type: Some(RexType::Selection(Box::new(FieldReference {
            reference_type: Some(ReferenceType::DirectReference(ReferenceSegment {
                reference_type: Some(reference_segment::ReferenceType::StructField(Box::new(
                    reference_segment::StructField {
                        field: i32::try_from(index).unwrap_or(i32::MAX),
                        child: None,
                    },
                ))),
            })),
            root_type: Some(RootType::RootReference(RootReference {})),
        }))),
    }
}

/// `like` without an escape character as the standard's two arguments: DataFusion's
/// producer adds a third, a null string, which no standard signature takes (its consumer
/// reads either form).
pub(super) fn without_null_escape(expression: &mut Expression) {
    let Some(RexType::ScalarFunction(f)) = expression.rex_type.as_mut() else {
        return;
    };
    if f.arguments.len() == 1 {
        // NOT LIKE: the like is the argument.
        if let Some(ArgType::Value(inner)) = f.arguments[0].arg_type.as_mut() {
            without_null_escape(inner);
        }
        return;
    }
    let null_escape = f.arguments.len() == 3
        && matches!(
            &f.arguments[2].arg_type,
            Some(ArgType::Value(Expression {
                rex_type: Some(RexType::Literal(Literal {
                    literal_type: Some(LiteralType::Null(_)),
                    ..
                })),
            }))
        );
    if null_escape {
        f.arguments.truncate(2);
    }
}
