//! Executing logical plans exactly as given, on real data: TPC-H generated in-process
//! (tpchgen-arrow) and the CPG pack's Parquet inputs. Used to check that canonical plans
//! compute what the rules say and that meaning-changing mutants really change results.

use crate::support::session_with_inputs;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Float64Type, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::tree_node::Transformed;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::decorrelate_lateral_join::DecorrelateLateralJoin;
use datafusion::optimizer::decorrelate_predicate_subquery::DecorrelatePredicateSubquery;
use datafusion::optimizer::eliminate_cross_join::EliminateCrossJoin;
use datafusion::optimizer::extract_equijoin_predicate::ExtractEquijoinPredicate;
use datafusion::optimizer::optimize_projections::OptimizeProjections;
use datafusion::optimizer::replace_distinct_aggregate::ReplaceDistinctWithAggregate;
use datafusion::optimizer::scalar_subquery_to_join::ScalarSubqueryToJoin;
use datafusion::optimizer::{Optimizer, OptimizerContext, OptimizerRule};
use datafusion::prelude::{SessionConfig, SessionContext};
use rulec_compile::{CompiledPack, Pipeline};
use rulec_pack::Pack;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The TPC-H scale factor of the tests: 60,175 lineitems, enough for every query to return
/// rows, small enough for debug builds.
pub const TPCH_SCALE: f64 = 0.01;

/// Tables by name, as providers the plans are bound to.
pub type Tables = BTreeMap<String, Arc<dyn TableProvider>>;

fn generated_tpch() -> &'static BTreeMap<&'static str, Vec<RecordBatch>> {
    static TABLES: OnceLock<BTreeMap<&'static str, Vec<RecordBatch>>> = OnceLock::new();
    TABLES.get_or_init(|| {
        use tpchgen::generators::{
            CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
            PartSuppGenerator, RegionGenerator, SupplierGenerator,
        };
        use tpchgen_arrow::{
            CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow,
            RegionArrow, SupplierArrow,
        };
        fn all<E: std::fmt::Debug>(
            batches: impl Iterator<Item = Result<RecordBatch, E>>,
        ) -> Vec<RecordBatch> {
            batches.map(|b| b.expect("tpchgen")).collect()
        }
        let sf = TPCH_SCALE;
        BTreeMap::from([
            (
                "customer",
                all(CustomerArrow::new(CustomerGenerator::new(sf, 1, 1))),
            ),
            (
                "lineitem",
                all(LineItemArrow::new(LineItemGenerator::new(sf, 1, 1))),
            ),
            (
                "nation",
                all(NationArrow::new(NationGenerator::new(sf, 1, 1))),
            ),
            (
                "orders",
                all(OrderArrow::new(OrderGenerator::new(sf, 1, 1))),
            ),
            ("part", all(PartArrow::new(PartGenerator::new(sf, 1, 1)))),
            (
                "partsupp",
                all(PartSuppArrow::new(PartSuppGenerator::new(sf, 1, 1))),
            ),
            (
                "region",
                all(RegionArrow::new(RegionGenerator::new(sf, 1, 1))),
            ),
            (
                "supplier",
                all(SupplierArrow::new(SupplierGenerator::new(sf, 1, 1))),
            ),
        ])
    })
}

/// The TPC-H tables at [`TPCH_SCALE`], cast to the pack's contracts (`utf8` strings).
pub fn tpch_tables(pack: &Pack) -> Tables {
    tpch_batches(pack)
        .into_iter()
        .map(|(name, batches)| {
            let schema = Arc::clone(&pack.contracts[&name].schema);
            let table = MemTable::try_new(schema, vec![batches]).expect("memtable");
            (name, Arc::new(table) as Arc<dyn TableProvider>)
        })
        .collect()
}

/// The TPC-H tables' batches at [`TPCH_SCALE`], cast to the pack's contracts.
pub fn tpch_batches(pack: &Pack) -> BTreeMap<String, Vec<RecordBatch>> {
    generated_tpch()
        .iter()
        .map(|(name, batches)| {
            let schema = Arc::clone(&pack.contracts[*name].schema);
            let cast: Vec<RecordBatch> = batches.iter().map(|b| cast_batch(b, &schema)).collect();
            ((*name).to_owned(), cast)
        })
        .collect()
}

fn cast_batch(batch: &RecordBatch, schema: &SchemaRef) -> RecordBatch {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            arrow::compute::cast(column, field.data_type()).expect("cast to the contract")
        })
        .collect();
    RecordBatch::try_new(Arc::clone(schema), columns).expect("batch in the contract schema")
}

/// The CPG pack's inputs, read from its Parquet files and checked against the contracts.
pub async fn cpg_inputs(pack: &Pack, pack_dir: &Path) -> Tables {
    let ctx = session_with_inputs(pack, pack_dir).await;
    let mut tables = Tables::new();
    for name in pack.manifest.inputs.keys() {
        let provider = ctx.table_provider(name.as_str()).await.expect("input");
        tables.insert(name.clone(), provider);
    }
    tables
}

/// The data a pack's rules run on: TPC-H generated in-process, the CPG inputs with the
/// products other rules read; `None` for a plan-only pack.
pub async fn pack_tables(name: &str, pack: &Pack, compiled: &CompiledPack) -> Option<Tables> {
    match name {
        "tpch" => Some(tpch_tables(pack)),
        "cpg" | "nested" => {
            let inputs = cpg_inputs(pack, &crate::canonical::pack_dir(name)).await;
            Some(build_products(pack, compiled, inputs).await)
        }
        _ => None,
    }
}

/// The plan a rule means before any optimization, made executable: the initial plan with
/// the pipeline's analyzer (type coercion) and only the rewrites without which DataFusion
/// cannot run it at all or not in reasonable time — subquery decorrelation, turning
/// filtered cross joins into joins, and equality filters of joins into join keys. No simplification, pushdown, projection pruning or
/// rulec canonicalization.
pub fn reference_plan(initial: &LogicalPlan) -> LogicalPlan {
    let pipeline = Pipeline::new();
    let analyzed = pipeline
        .analyze(initial.clone())
        .expect("the analyzer accepts the initial plan");
    let rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> = vec![
        // Before decorrelation too: a join added for a subquery would otherwise sit between
        // a WHERE clause and the comma-joined tables it filters.
        Arc::new(EliminateCrossJoin::new()),
        Arc::new(DecorrelatePredicateSubquery::new()),
        Arc::new(ScalarSubqueryToJoin::new()),
        Arc::new(DecorrelateLateralJoin::new()),
        Arc::new(EliminateCrossJoin::new()),
        // Decorrelated subqueries join on `outer = inner` filters; as hash-join keys rather
        // than a nested-loop filter.
        Arc::new(ExtractEquijoinPredicate::new()),
        // DataFusion executes DISTINCT only as the aggregate it stands for.
        Arc::new(ReplaceDistinctWithAggregate::new()),
    ];
    let context = OptimizerContext::new_with_config_options(Arc::new(pipeline.options().clone()))
        .without_query_execution_start_time();
    let decorrelated = Optimizer::with_rules(rules)
        .optimize(analyzed, &context, |_, _| {})
        .expect("the reference rewrites apply");
    without_coalesce(decorrelated)
}

/// `plan` with the columns nothing reads pruned (DataFusion's `OptimizeProjections`). For
/// plans that would otherwise carry a nested column through an unnest: each unnested row
/// repeats its file's whole node list, past Arrow's 2 GiB offsets on the CPG data.
pub fn pruned(plan: LogicalPlan) -> LogicalPlan {
    let context =
        OptimizerContext::new_with_config_options(Arc::new(Pipeline::new().options().clone()))
            .without_query_execution_start_time();
    Optimizer::with_rules(vec![Arc::new(OptimizeProjections::new())])
        .optimize(plan, &context, |_, _| {})
        .expect("projections pruned")
}

/// `coalesce(…)` written as the CASE DataFusion's simplifier makes of it: the function has
/// no implementation of its own, so a plan without the simplifier cannot run it.
fn without_coalesce(plan: LogicalPlan) -> LogicalPlan {
    use datafusion::common::tree_node::TreeNode as _;
    use datafusion::logical_expr::expr::ScalarFunction;
    use datafusion::logical_expr::{Expr, when};
    plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|expr| {
            expr.transform_up(|e| match e {
                Expr::ScalarFunction(ScalarFunction { func, args })
                    if func.name() == "coalesce" && args.len() >= 2 =>
                {
                    let (last, init) = args.split_last().expect("two arguments");
                    let mut case = when(init[0].clone().is_not_null(), init[0].clone());
                    for arg in &init[1..] {
                        case = case.when(arg.clone().is_not_null(), arg.clone());
                    }
                    Ok(Transformed::yes(case.otherwise(last.clone())?))
                }
                other => Ok(Transformed::no(other)),
            })
        })
    })
    .expect("coalesce rewritten")
    .data
}

/// `plan` with every table scan reading from `tables` (rulec's plans are made against
/// schemas only).
fn bind(plan: LogicalPlan, tables: &Tables) -> LogicalPlan {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::TableScan(mut scan) => {
            let name = scan.table_name.table().to_owned();
            let provider = tables
                .get(&name)
                .unwrap_or_else(|| panic!("no data for table `{name}`"));
            scan.source = provider_as_source(Arc::clone(provider));
            Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
        }
        other => Ok(Transformed::no(other)),
    })
    .expect("bind")
    .data
}

/// Executes `plan` as given: DataFusion's physical planner without its logical analyzer and
/// optimizer (the plan is already analyzed).
pub async fn execute(plan: &LogicalPlan, tables: &Tables) -> Result<Vec<RecordBatch>, String> {
    let config = SessionConfig::from(rulec_compile::planning_options());
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_analyzer_rules(vec![])
        .with_optimizer_rules(vec![])
        .build();
    let ctx = SessionContext::new_with_state(state);
    let bound = bind(plan.clone(), tables);
    let physical = ctx
        .state()
        .create_physical_plan(&bound)
        .await
        .map_err(|e| e.to_string())?;
    datafusion::physical_plan::collect(physical, ctx.task_ctx())
        .await
        .map_err(|e| e.to_string())
}

/// Builds, from their reference plans and in dependency order, the rules of `pack` that
/// other rules read. Returns the tables: inputs and those products.
pub async fn build_products(pack: &Pack, compiled: &CompiledPack, inputs: Tables) -> Tables {
    let mut tables = inputs;
    let read: std::collections::BTreeSet<&String> =
        pack.rules.iter().flat_map(|r| &r.upstream_rules).collect();
    for rule in pack.rules.iter().filter(|r| read.contains(&r.name)) {
        let c = compiled.rule(&rule.name).expect("compiled");
        let initial = c.initial_plan.as_ref().expect("planned");
        let batches = execute(&reference_plan(initial), &tables)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", rule.name));
        let schema = Arc::clone(c.output_schema.as_ref().expect("schema"));
        let batches: Vec<RecordBatch> = batches
            .iter()
            .map(|b| {
                RecordBatch::try_new(Arc::clone(&schema), b.columns().to_vec())
                    .expect("the product has its declared schema")
            })
            .collect();
        let table = MemTable::try_new(schema, vec![batches]).expect("memtable");
        tables.insert(rule.name.clone(), Arc::new(table));
    }
    tables
}

/// One row for comparison: non-float cells as text, float cells as numbers.
#[derive(Debug, Clone)]
pub struct Row {
    text: Vec<String>,
    floats: Vec<f64>,
}

/// The rows of `batches` (a multiset: sorted, floats compared with a tolerance later).
pub fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut rows = Vec::new();
    for batch in batches {
        for i in 0..batch.num_rows() {
            let mut row = Row {
                text: Vec::new(),
                floats: Vec::new(),
            };
            for column in batch.columns() {
                match column.data_type() {
                    DataType::Float64 if column.is_valid(i) => {
                        row.floats
                            .push(column.as_primitive::<Float64Type>().value(i));
                    }
                    DataType::Float32 if column.is_valid(i) => {
                        row.floats
                            .push(f64::from(column.as_primitive::<Float32Type>().value(i)));
                    }
                    _ => row.text.push(
                        arrow::util::display::array_value_to_string(column, i)
                            .expect("displayable"),
                    ),
                }
            }
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| {
        a.text.cmp(&b.text).then_with(|| {
            a.floats
                .iter()
                .zip(&b.floats)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    rows
}

/// Whether two multisets of rows are the same (floats within 1e-9 relative).
pub fn same_rows(a: &[Row], b: &[Row]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.text == y.text
                && x.floats.len() == y.floats.len()
                && x.floats
                    .iter()
                    .zip(&y.floats)
                    .all(|(p, q)| p == q || (p - q).abs() <= 1e-9 * p.abs().max(q.abs()))
        })
}
