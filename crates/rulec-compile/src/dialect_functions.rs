//! Functions a dialect's read rewrites need, whose meaning depends on types the syntax does
//! not know. Each is resolved into DataFusion's own functions by the canonical pipeline's
//! expression simplifier ([`ScalarUDFImpl::simplify`]), so no canonical plan, fingerprint
//! or Substrait plan contains it.

use arrow_schema::DataType;
use datafusion_common::{Result, plan_err};
use datafusion_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility, lit, when,
};

/// `subscript_from_zero(x, i)`: Spark's `x[i]`. On a list, the element at the 0-based `i`
/// (NULL when `i` is negative or past the end): `CASE WHEN i >= 0 THEN array_element(x, i +
/// 1) END`; on a map, the value of key `i`, as DataFusion's `m[i]`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SubscriptFromZero {
    signature: Signature,
}

pub(crate) const SUBSCRIPT_FROM_ZERO: &str = "subscript_from_zero";

impl Default for SubscriptFromZero {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SubscriptFromZero {
    fn name(&self) -> &str {
        SUBSCRIPT_FROM_ZERO
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match &args[0] {
            DataType::List(element)
            | DataType::LargeList(element)
            | DataType::FixedSizeList(element, _) => Ok(element.data_type().clone()),
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(pair) if pair.len() == 2 => Ok(pair[1].data_type().clone()),
                other => plan_err!("a map's entries are not key-value pairs: {other}"),
            },
            DataType::Null => Ok(DataType::Null),
            other => plan_err!("`x[i]` subscripts a list or a map, not {other}"),
        }
    }

    fn simplify(&self, mut args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let index = args.pop().expect("two arguments");
        let subject = args.pop().expect("two arguments");
        match info.get_data_type(&subject)? {
            DataType::Map(..) => Ok(ExprSimplifyResult::Simplified(Expr::ScalarFunction(
                datafusion_expr::expr::ScalarFunction::new_udf(
                    datafusion_functions::core::get_field(),
                    vec![subject, index],
                ),
            ))),
            _ => {
                let element = datafusion_functions_nested::expr_fn::array_element(
                    subject,
                    index.clone() + lit(1_i64),
                );
                Ok(ExprSimplifyResult::Simplified(
                    when(index.gt_eq(lit(0_i64)), element).end()?,
                ))
            }
        }
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("{SUBSCRIPT_FROM_ZERO} is resolved when the rule is planned, never run")
    }
}
