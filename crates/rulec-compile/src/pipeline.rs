//! The canonical pipeline: a named, versioned, explicit list of DataFusion analyzer and
//! optimizer rules with pinned options.
//!
//! The pipeline's description (every rule name in order and every option that influences
//! planning) is hashed into every query fingerprint. Changing the list or an option is a
//! deliberate act: bump [`PIPELINE_VERSION`] and re-pin [`PINNED_DESCRIPTION_HASH`] (a test
//! fails until both are done).

use crate::canonicalize::{CNF_MAX_CLAUSES, CNF_WORK_LIMIT, Canonicalize};
use crate::passes::{NormalizeIntegerComparisons, NormalizeNullCase};
use datafusion_common::Result;
use datafusion_common::config::ConfigOptions;
use datafusion_expr::LogicalPlan;
use datafusion_optimizer::analyzer::resolve_grouping_function::ResolveGroupingFunction;
use datafusion_optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion_optimizer::decorrelate_lateral_join::DecorrelateLateralJoin;
use datafusion_optimizer::decorrelate_predicate_subquery::DecorrelatePredicateSubquery;
use datafusion_optimizer::eliminate_cross_join::EliminateCrossJoin;
use datafusion_optimizer::eliminate_duplicated_expr::EliminateDuplicatedExpr;
use datafusion_optimizer::eliminate_filter::EliminateFilter;
use datafusion_optimizer::eliminate_group_by_constant::EliminateGroupByConstant;
use datafusion_optimizer::eliminate_join::EliminateJoin;
use datafusion_optimizer::eliminate_limit::EliminateLimit;
use datafusion_optimizer::eliminate_outer_join::EliminateOuterJoin;
use datafusion_optimizer::extract_equijoin_predicate::ExtractEquijoinPredicate;
use datafusion_optimizer::filter_null_join_keys::FilterNullJoinKeys;
use datafusion_optimizer::optimize_projections::OptimizeProjections;
use datafusion_optimizer::optimize_unions::OptimizeUnions;
use datafusion_optimizer::propagate_empty_relation::PropagateEmptyRelation;
use datafusion_optimizer::push_down_filter::PushDownFilter;
use datafusion_optimizer::push_down_limit::PushDownLimit;
use datafusion_optimizer::replace_distinct_aggregate::ReplaceDistinctWithAggregate;
use datafusion_optimizer::rewrite_set_comparison::RewriteSetComparison;
use datafusion_optimizer::scalar_subquery_to_join::ScalarSubqueryToJoin;
use datafusion_optimizer::simplify_expressions::SimplifyExpressions;
use datafusion_optimizer::single_distinct_to_groupby::SingleDistinctToGroupBy;
use datafusion_optimizer::unions_to_filter::UnionsToFilter;
use datafusion_optimizer::{Analyzer, AnalyzerRule, Optimizer, OptimizerContext, OptimizerRule};
use std::sync::Arc;

/// The pipeline's name.
pub const PIPELINE_NAME: &str = "rulec-canonical";
/// The pipeline's version: bump it whenever [`Pipeline::description`] changes.
pub const PIPELINE_VERSION: u32 = 3;
/// The DataFusion release whose rules make up the pipeline (rule behaviour is versioned
/// with the engine, so the engine version is part of the description).
pub const ENGINE: &str = "datafusion 55.2";
/// sha256 of the description of pipeline version [`PIPELINE_VERSION`].
pub const PINNED_DESCRIPTION_HASH: &str =
    "sha256:811cfd56d7f9969879bbca3fb331f9315c87bc18599ba301774953d2c57d445f";

/// The options rulec plans with. Everything not set here is DataFusion's default, and the
/// planning-relevant part of it is recorded in the pipeline description.
pub fn planning_options() -> ConfigOptions {
    let mut options = ConfigOptions::default();
    // Spans make DataFusion's diagnostics point at rule text.
    options.sql_parser.collect_spans = true;
    options.sql_parser.enable_ident_normalization = true;
    // A contract's `utf8` is Arrow Utf8 at every nesting level, in planning and at run time
    // (see ARCHITECTURE.md, "String types"), so CAST(x AS VARCHAR) must be Utf8 too.
    options.sql_parser.map_string_types_to_utf8view = false;
    options.execution.parquet.schema_force_view_types = false;
    // A rule that fails must fail the compilation: a silently skipped rule would change
    // plans, and so fingerprints, without anyone noticing.
    options.optimizer.skip_failed_rules = false;
    // Enough passes to reach a fixed point (the optimizer stops at the first pass that
    // changes nothing): canonical plans must not change when canonicalized again.
    options.optimizer.max_passes = 16;
    options.optimizer.filter_null_join_keys = false;
    options
}

/// The pinned pipeline.
pub struct Pipeline {
    options: Arc<ConfigOptions>,
    analyzer: Analyzer,
    optimizer: Optimizer,
    /// sha256 of `description()`, computed once (every fingerprint hashes it).
    description_hash: String,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Pipeline {
    pub fn new() -> Self {
        let analyzer_rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![
            Arc::new(ResolveGroupingFunction::new()),
            Arc::new(TypeCoercion::new()),
        ];
        // DataFusion 55.2's default optimizer rules, in its order, written out so that an
        // engine upgrade cannot change the pipeline behind the fingerprint's back. Left out:
        // common_subexpr_eliminate, extract_leaf_expressions and push_down_leaf_projections,
        // execution concerns (the run-time session applies them) whose generated
        // projections make the canonical form harder to read, depend on the order in which
        // an author wrote expressions, and are renumbered when the pipeline runs again.
        let optimizer_rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> = vec![
            Arc::new(RewriteSetComparison::new()),
            Arc::new(OptimizeUnions::new()),
            Arc::new(UnionsToFilter::new()),
            Arc::new(SimplifyExpressions::new()),
            // rulec's own rule (what the engine's rules leave author-dependent), after the
            // simplifier (BETWEEN is expanded, constants folded) and before decorrelation and
            // join building, which then see one order of conjuncts whatever order the author
            // wrote. The optimizer repeats the list until a pass changes nothing, so the
            // final plan is in rulec's canonical form too.
            Arc::new(Canonicalize),
            // rulec's equivalence passes (`passes/`), each one spelling of a value made the
            // other's; the next round's `rulec_canonicalize` orders what they produce.
            Arc::new(NormalizeNullCase),
            Arc::new(NormalizeIntegerComparisons),
            Arc::new(ReplaceDistinctWithAggregate::new()),
            Arc::new(EliminateJoin::new()),
            Arc::new(DecorrelatePredicateSubquery::new()),
            Arc::new(ScalarSubqueryToJoin::new()),
            Arc::new(DecorrelateLateralJoin::new()),
            Arc::new(ExtractEquijoinPredicate::new()),
            Arc::new(EliminateDuplicatedExpr::new()),
            Arc::new(EliminateFilter::new()),
            Arc::new(EliminateCrossJoin::new()),
            Arc::new(EliminateLimit::new()),
            Arc::new(PropagateEmptyRelation::new()),
            Arc::new(FilterNullJoinKeys::default()),
            Arc::new(EliminateOuterJoin::new()),
            Arc::new(PushDownLimit::new()),
            Arc::new(PushDownFilter::new()),
            Arc::new(SingleDistinctToGroupBy::new()),
            Arc::new(EliminateGroupByConstant::new()),
            Arc::new(OptimizeProjections::new()),
        ];
        let mut pipeline = Pipeline {
            options: Arc::new(planning_options()),
            analyzer: Analyzer::with_rules(analyzer_rules),
            optimizer: Optimizer::with_rules(optimizer_rules),
            description_hash: String::new(),
        };
        pipeline.description_hash =
            rulec_contract::sha256_hex(pipeline.description().join("\n").as_bytes());
        pipeline
    }

    pub fn options(&self) -> &ConfigOptions {
        &self.options
    }

    /// The names of the passes, in order: analyzer passes, then optimizer passes.
    pub fn pass_names(&self) -> Vec<String> {
        self.analyzer
            .rules
            .iter()
            .map(|r| format!("analyzer/{}", r.name()))
            .chain(
                self.optimizer
                    .rules
                    .iter()
                    .map(|r| format!("optimizer/{}", r.name())),
            )
            .collect()
    }

    /// The pipeline's description, one line per fact: name and version, engine, passes in
    /// order, and every `sql_parser` and `optimizer` option with its value (sorted).
    pub fn description(&self) -> Vec<String> {
        let mut lines = vec![
            format!("pipeline {PIPELINE_NAME} v{PIPELINE_VERSION}"),
            format!("engine {ENGINE}"),
        ];
        lines.extend(self.pass_names().into_iter().map(|p| format!("pass {p}")));
        let mut entries: Vec<(String, String)> = self
            .options
            .entries()
            .into_iter()
            .filter(|e| {
                e.key.starts_with("datafusion.sql_parser.")
                    || e.key.starts_with("datafusion.optimizer.")
                    || e.key == "datafusion.execution.parquet.schema_force_view_types"
            })
            .map(|e| (e.key, e.value.unwrap_or_else(|| "<unset>".to_owned())))
            .collect();
        entries.push((
            "rulec.cnf_max_clauses".to_owned(),
            CNF_MAX_CLAUSES.to_string(),
        ));
        entries.push((
            "rulec.cnf_work_limit".to_owned(),
            CNF_WORK_LIMIT.to_string(),
        ));
        entries.sort();
        lines.extend(entries.into_iter().map(|(k, v)| format!("option {k}={v}")));
        lines
    }

    /// sha256 of [`Pipeline::description`].
    pub fn description_hash(&self) -> &str {
        &self.description_hash
    }

    /// Runs only the pipeline's analyzer passes (type coercion and friends): the plan a rule
    /// means, executable but not optimized.
    pub fn analyze(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        self.analyzer
            .execute_and_check(plan, &self.options, |_, _| {})
    }

    /// Runs the analyzer, then the optimizer. `observer` sees the plan after every pass,
    /// with the pass's name.
    pub fn run(
        &self,
        plan: LogicalPlan,
        mut observer: impl FnMut(&str, &LogicalPlan),
    ) -> Result<LogicalPlan> {
        let analyzed = self
            .analyzer
            .execute_and_check(plan, &self.options, |p, rule| {
                observer(&format!("analyzer/{}", rule.name()), p);
            })?;
        // No query start time: `now()` and friends are not folded into plans, which must
        // not depend on when they were compiled.
        let context = OptimizerContext::new_with_config_options(Arc::clone(&self.options))
            .without_query_execution_start_time();
        self.optimizer.optimize(analyzed, &context, |p, rule| {
            observer(&format!("optimizer/{}", rule.name()), p);
        })
    }
}
