//! The canonical plan made printable: DataFusion plans both a struct field and a map value
//! as `get_field`, and its unparser prints both as `.name`, which engines read as a struct
//! field only. Here each lookup into a map, told by the types of the plan, becomes a
//! printing-only `map_lookup(m, key)` that the printer writes as `m['key']`.

use arrow_schema::DataType;
use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_common::{DFSchema, Result, internal_err};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

/// The name the printer knows a map lookup by.
pub(super) const MAP_LOOKUP: &str = "map_lookup";

/// `plan` with every lookup into a map written as [`MAP_LOOKUP`].
pub(super) fn for_printing(plan: &LogicalPlan) -> Result<LogicalPlan> {
    plan.clone()
        .transform_up_with_subqueries(|node| {
            let mut schema = DFSchema::empty();
            for input in node.inputs() {
                schema.merge(input.schema());
            }
            if node.inputs().is_empty() {
                schema = node.schema().as_ref().clone();
            }
            node.map_expressions(|e| e.transform_up(|e| Ok(split_map_lookups(e, &schema))))
        })
        .map(|t| t.data)
}

/// `get_field(s, 'a', 'k', 'b')` where `s.a` is a map: `get_field(map_lookup(get_field(s,
/// 'a'), 'k'), 'b')`. Anything whose types cannot be followed is left as it is.
fn split_map_lookups(expr: Expr, schema: &DFSchema) -> Transformed<Expr> {
    let Expr::ScalarFunction(function) = &expr else {
        return Transformed::no(expr);
    };
    if function.func.name() != "get_field" || function.args.len() < 2 {
        return Transformed::no(expr);
    }
    let Ok(mut data_type) = function.args[0].get_type(schema) else {
        return Transformed::no(expr);
    };
    let mut current = function.args[0].clone();
    let mut fields: Vec<Expr> = Vec::new();
    let mut any_map = false;
    let flush = |current: Expr, fields: &mut Vec<Expr>| {
        if fields.is_empty() {
            return current;
        }
        let mut args = vec![current];
        args.append(fields);
        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(&function.func), args))
    };
    for key in &function.args[1..] {
        match &data_type {
            DataType::Map(entries, _) => {
                let DataType::Struct(pair) = entries.data_type() else {
                    return Transformed::no(expr);
                };
                let Some(value) = pair.get(1) else {
                    return Transformed::no(expr);
                };
                data_type = value.data_type().clone();
                current = flush(current, &mut fields);
                current = Expr::ScalarFunction(ScalarFunction::new_udf(
                    Arc::clone(&MAP_LOOKUP_UDF),
                    vec![current, key.clone()],
                ));
                any_map = true;
            }
            DataType::Struct(struct_fields) => {
                let Expr::Literal(datafusion_common::ScalarValue::Utf8(Some(name)), _) = key else {
                    return Transformed::no(expr);
                };
                let Some(field) = struct_fields.iter().find(|f| f.name() == name) else {
                    return Transformed::no(expr);
                };
                data_type = field.data_type().clone();
                fields.push(key.clone());
            }
            _ => return Transformed::no(expr),
        }
    }
    if !any_map {
        return Transformed::no(expr);
    }
    Transformed::yes(flush(current, &mut fields))
}

static MAP_LOOKUP_UDF: LazyLock<Arc<ScalarUDF>> =
    LazyLock::new(|| Arc::new(ScalarUDF::new_from_impl(MapLookup::default())));

/// A map value by key, as printed; never planned or run.
#[derive(Debug, PartialEq, Eq, Hash)]
struct MapLookup {
    signature: Signature,
}

impl Default for MapLookup {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MapLookup {
    fn name(&self) -> &str {
        MAP_LOOKUP
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        internal_err!("{MAP_LOOKUP} is printed, never planned")
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        internal_err!("{MAP_LOOKUP} is printed, never run")
    }
}
