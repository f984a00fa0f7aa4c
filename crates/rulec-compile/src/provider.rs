//! The context DataFusion's SQL planner resolves names against: contract tables, upstream
//! rule outputs and the built-in function registry. No data is involved.

use arrow_schema::SchemaRef;
use datafusion_common::config::ConfigOptions;
use datafusion_common::{Result, TableReference, plan_err};
use datafusion_expr::planner::{ContextProvider, ExprPlanner};
use datafusion_expr::{AggregateUDF, HigherOrderUDF, ScalarUDF, TableSource, WindowUDF};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// A table known only by its schema.
#[derive(Debug)]
pub struct SchemaTable {
    schema: SchemaRef,
}

impl SchemaTable {
    pub fn new(schema: SchemaRef) -> Self {
        SchemaTable { schema }
    }
}

impl TableSource for SchemaTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

/// The built-in functions: the same registry DataFusion's default session has, so that what
/// `check` accepts is what `run` executes, plus the dialect functions of
/// [`crate::dialect_functions`], which the pipeline resolves into DataFusion's before
/// anything runs.
pub struct Functions {
    pub scalar: BTreeMap<String, Arc<ScalarUDF>>,
    pub higher_order: BTreeMap<String, Arc<HigherOrderUDF>>,
    pub aggregate: BTreeMap<String, Arc<AggregateUDF>>,
    pub window: BTreeMap<String, Arc<WindowUDF>>,
    pub expr_planners: Vec<Arc<dyn ExprPlanner>>,
}

impl Functions {
    fn build() -> Self {
        let scalar = by_name(
            datafusion_functions::all_default_functions()
                .into_iter()
                .chain(datafusion_functions_nested::all_default_nested_functions())
                .chain([Arc::new(ScalarUDF::new_from_impl(
                    crate::dialect_functions::SubscriptFromZero::default(),
                ))]),
            |f| f.name(),
            |f| f.aliases(),
        );
        let higher_order = by_name(
            datafusion_functions_nested::all_default_higher_order_functions(),
            |f| f.name(),
            |f| f.aliases(),
        );
        let aggregate = by_name(
            datafusion_functions_aggregate::all_default_aggregate_functions(),
            |f| f.name(),
            |f| f.aliases(),
        );
        let window = by_name(
            datafusion_functions_window::all_default_window_functions(),
            |f| f.name(),
            |f| f.aliases(),
        );
        // The same planners, in the same order, as DataFusion's default session.
        let expr_planners: Vec<Arc<dyn ExprPlanner>> = vec![
            Arc::new(datafusion_functions::core::planner::CoreFunctionPlanner::default()),
            Arc::new(datafusion_functions_nested::planner::NestedFunctionPlanner),
            Arc::new(datafusion_functions_nested::planner::FieldAccessPlanner),
            Arc::new(datafusion_functions::datetime::planner::DatetimeFunctionPlanner),
            Arc::new(datafusion_functions::unicode::planner::UnicodeFunctionPlanner),
            Arc::new(datafusion_functions_aggregate::planner::AggregateFunctionPlanner),
            Arc::new(datafusion_functions_window::planner::WindowFunctionPlanner),
        ];
        Functions {
            scalar,
            higher_order,
            aggregate,
            window,
            expr_planners,
        }
    }

    /// Every function name (and alias), by kind: what a build id records of the registry.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        out.extend(self.scalar.keys().map(|n| format!("scalar {n}")));
        out.extend(
            self.higher_order
                .keys()
                .map(|n| format!("higher-order {n}")),
        );
        out.extend(self.aggregate.keys().map(|n| format!("aggregate {n}")));
        out.extend(self.window.keys().map(|n| format!("window {n}")));
        out
    }

    /// The process-wide registry (it holds no state that could change).
    pub fn get() -> &'static Functions {
        static FUNCTIONS: LazyLock<Functions> = LazyLock::new(Functions::build);
        &FUNCTIONS
    }
}

/// Functions by name and by every alias (the lookups DataFusion's session does).
fn by_name<T: ?Sized>(
    functions: impl IntoIterator<Item = Arc<T>>,
    name: impl Fn(&T) -> &str,
    aliases: impl Fn(&T) -> &[String],
) -> BTreeMap<String, Arc<T>> {
    let mut map = BTreeMap::new();
    for f in functions {
        for alias in aliases(&f) {
            map.insert(alias.clone(), Arc::clone(&f));
        }
        map.insert(name(&f).to_owned(), f);
    }
    map
}

/// Tables visible to one rule, plus the options and functions.
pub struct RuleContext<'a> {
    pub tables: BTreeMap<String, Arc<dyn TableSource>>,
    pub options: &'a ConfigOptions,
    pub functions: &'static Functions,
}

impl ContextProvider for RuleContext<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        let qualified_ok = match (name.catalog(), name.schema()) {
            (None, None) => true,
            (None, Some(schema)) => schema == self.options.catalog.default_schema,
            (Some(catalog), Some(schema)) => {
                catalog == self.options.catalog.default_catalog
                    && schema == self.options.catalog.default_schema
            }
            (Some(_), None) => false,
        };
        match self.tables.get(name.table()) {
            Some(table) if qualified_ok => Ok(Arc::clone(table)),
            _ => plan_err!("table '{name}' not found"),
        }
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        &self.functions.expr_planners
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.functions.scalar.get(name).cloned()
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.functions.higher_order.get(name).cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.functions.aggregate.get(name).cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.functions.window.get(name).cloned()
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<arrow_schema::DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.options
    }

    fn udf_names(&self) -> Vec<String> {
        self.functions.scalar.keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.functions.higher_order.keys().cloned().collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.functions.aggregate.keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.functions.window.keys().cloned().collect()
    }
}
