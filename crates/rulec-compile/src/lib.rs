//! The pure compilation core: every rule of a pack is planned by DataFusion's SQL planner
//! against its contracts and upstream rule schemas, run through the pinned canonical
//! [`Pipeline`], and fingerprinted.
//!
//! Architecture invariant: no I/O and no data. This crate depends on DataFusion's planning
//! crates only (no execution, no tokio, no Parquet).

pub mod append;
mod canonicalize;
mod dialect_functions;
mod emit;
mod encode;
mod errors;
mod fingerprint;
mod hazards;
mod output_contract;
mod passes;
mod pipeline;
mod products;
mod provider;
pub mod slices;
mod unnest;

pub use canonicalize::{CNF_MAX_CLAUSES, CNF_WORK_LIMIT, Canonicalize};
pub use emit::{EngineSql, canonical_sql, canonical_sql_for};
pub use encode::{ENCODING_VERSION, encode_expr, encode_plan_structure, explain_plan_structure};
pub use errors::{clean_message, plan_error_diagnostic};
pub use fingerprint::{
    FINGERPRINT_VERSION, column_fingerprint, encode_plan, fingerprint, rows_fingerprint,
};
pub use passes::{NormalizeIntegerComparisons, NormalizeNullCase};
pub use pipeline::{
    ENGINE, PINNED_DESCRIPTION_HASH, PIPELINE_NAME, PIPELINE_VERSION, Pipeline, planning_options,
};
pub use products::{
    ProductLayout, check_product_settings, check_sort_keys, partitionable, product_layout, sortable,
};
pub use provider::{Functions, RuleContext, SchemaTable};
use rulec_diagnostics::did_you_mean;
pub use unnest::{UnnestOutput, unnest_outputs};

pub use datafusion_common;
pub use datafusion_expr;
pub use datafusion_sql;

use arrow_schema::{Schema, SchemaRef};
use datafusion_expr::{LogicalPlan, TableSource};
use datafusion_sql::planner::{ParserOptions, SqlToRel};
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::{Pack, Rule};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The result of compiling one rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: String,
    pub file: String,
    /// The plan as DataFusion's SQL planner produced it (before the pipeline).
    pub initial_plan: Option<LogicalPlan>,
    /// The canonical plan: the initial plan after the pinned pipeline.
    pub plan: Option<LogicalPlan>,
    /// The product's schema (unqualified field names).
    pub output_schema: Option<SchemaRef>,
    /// `sha256:<hex>` query fingerprint of the canonical plan.
    pub fingerprint: Option<String>,
    /// `sha256:<hex>` schema fingerprint of the output schema.
    pub schema_fingerprint: Option<String>,
    /// Findings about this rule from compilation (pack-load findings stay with the pack).
    pub diagnostics: Vec<Diagnostic>,
    /// How long planning and the pipeline took for this rule.
    pub compile_time: std::time::Duration,
    /// Where that time went, phase by phase (for `rulec check --timings`).
    pub phase_times: PhaseTimes,
    /// The rule key (see [`RuleMemo`]) of what this result was computed from.
    pub key: String,
    /// True when the result was taken from a [`RuleMemo`] instead of planned now (a reused
    /// result may lack the plans: a cache on disk keeps schemas and findings only).
    pub reused: bool,
}

/// The time one rule's compilation spent in each phase.
#[derive(Debug, Clone, Default)]
pub struct PhaseTimes {
    /// DataFusion's SQL planner (`SqlToRel`): the rule's SQL to the initial logical plan.
    pub sql_to_rel: std::time::Duration,
    /// Each pipeline pass (`analyzer/...`, `optimizer/...`), summed over the optimizer's
    /// rounds until the fixed point. The first pass of a round also carries the
    /// optimizer's own work between rounds (its fixed-point check).
    pub passes: BTreeMap<String, std::time::Duration>,
    /// The query fingerprint (encoding and hashing).
    pub fingerprint: std::time::Duration,
}

/// A compiled pack: one entry per rule, in dependency order.
#[derive(Debug, Clone)]
pub struct CompiledPack {
    pub rules: Vec<CompiledRule>,
}

impl CompiledPack {
    pub fn rule(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

/// Compiles every rule of `pack`, in dependency order. A rule whose upstream rule failed
/// (to load or to compile) is reported once as skipped, not planned.
pub fn compile_pack(pack: &Pack) -> CompiledPack {
    compile_pack_with(pack, default_threads())
}

/// The stack size of planning threads: planning, the optimizer, the unparser and the
/// Substrait producer all recurse over the query's depth (a TPC-DS query needs more than a
/// default 2 MiB thread stack).
pub const PLANNING_STACK: usize = 32 << 20;

/// Runs `f` on a thread with a [`PLANNING_STACK`]-sized stack and returns its result
/// (a panic in `f` is resumed on the caller's thread).
pub fn with_planning_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| join_planning_thread(spawn_planning_thread(scope, f)))
}

fn spawn_planning_thread<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    std::thread::Builder::new()
        .name("rulec-plan".to_owned())
        .stack_size(PLANNING_STACK)
        .spawn_scoped(scope, f)
        .unwrap_or_else(|err| panic!("cannot start a planning thread: {err}"))
}

/// The thread's result; a panic in it is resumed on the caller's thread.
fn join_planning_thread<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// [`compile_pack`] with `threads` planning threads. Rules are planned level by level (a
/// rule's level is one more than the highest level of the rules it reads); the rules of a
/// level do not depend on each other and are planned in parallel. Results do not depend on
/// the number of threads.
pub fn compile_pack_with(pack: &Pack, threads: usize) -> CompiledPack {
    compile_pack_memo(pack, threads, &NoMemo)
}

/// Earlier results a compilation may reuse, and the checks that belong with each result.
///
/// A rule's result is a function of its rule key (plus [`RuleMemo::salt`]): when the
/// memo has a result for the key, the rule is not planned again. Because the key holds the
/// schemas a rule reads (not their fingerprints), an edit re-plans the edited rule, and its
/// readers only when its output schema changed.
pub trait RuleMemo: Sync {
    /// A result computed earlier for `key`, if kept.
    fn lookup(&self, key: &str) -> Option<CompiledRule>;

    /// What else a rule's result depends on, for checks [`RuleMemo::finish`] adds.
    fn salt(&self, _pack: &Pack, _rule: &Rule) -> String {
        String::new()
    }

    /// Runs after a rule is planned (on the planning thread): checks whose findings are
    /// kept with the rule's result.
    fn finish(&self, _pack: &Pack, _rule: &mut CompiledRule) {}
}

/// A memo that keeps nothing.
pub struct NoMemo;

impl RuleMemo for NoMemo {
    fn lookup(&self, _key: &str) -> Option<CompiledRule> {
        None
    }
}

/// The version of the rule key's encoding. Bump it when what a key covers changes.
pub const RULE_KEY_VERSION: u32 = 1;

/// A contract table's part of its readers' keys.
fn contract_table_key(schema: &Schema) -> String {
    format!("contract {}", schema_key(schema))
}

/// A compiled rule's part of its readers' keys.
fn rule_table_key(schema: &Schema) -> String {
    format!("rule {}", schema_key(schema))
}

/// `sha256:<hex>` over everything compiling `rule` reads: the compiler's version, pipeline
/// and fingerprint versions, the dialect, the rule's file and text, the schema of every
/// table it names (an input contract's, or an upstream rule's output schema, or that the
/// upstream failed), its output contract, and, only when a name does not resolve, every
/// table name of the pack (for the did-you-mean help).
/// Each resolved table's part of the key comes from `table_key` (computed once per check).
fn rule_key(pack: &Pack, rule: &Rule, table_key: &dyn Fn(&str) -> Option<String>) -> String {
    use std::fmt::Write as _;
    let mut text = format!(
        "rulec-rule-key-v{RULE_KEY_VERSION}\n{}\n{ENGINE}\npipeline {PIPELINE_VERSION}\nfingerprint {FINGERPRINT_VERSION}\ndialect {:?}\nfile {:?}\ncycle {}\ntext {:?}\n",
        env!("CARGO_PKG_VERSION"),
        pack.dialect,
        rule.file,
        rule.in_cycle,
        rule.text,
    );
    let mut unresolved = false;
    if rule.parses() {
        let names: BTreeSet<&str> = rule.table_refs().iter().map(|r| r.name.as_str()).collect();
        for name in names {
            let _ = write!(text, "table {name:?} ");
            if name == rule.name {
                text.push_str("self\n");
                unresolved = true;
            } else if let Some(key) = table_key(name) {
                let _ = writeln!(text, "{key}");
            } else if pack.rule(name).is_some() {
                text.push_str("failed\n");
            } else {
                text.push_str("unknown\n");
                unresolved = true;
            }
        }
    }
    if unresolved {
        for name in pack
            .contracts
            .keys()
            .chain(pack.rules.iter().map(|r| &r.name))
        {
            let _ = writeln!(text, "known {name:?}");
        }
    }
    if let Some(c) = pack.output_contracts.get(&rule.name) {
        let columns: Vec<_> = c
            .columns
            .iter()
            .map(|col| (&col.name, &col.type_text, col.nullable, col.span))
            .collect();
        let _ = writeln!(
            text,
            "output contract {:?}",
            (
                &c.table,
                &c.file,
                columns,
                &c.metadata,
                &c.order_by,
                &c.key,
                c.table_span
            )
        );
    }
    rulec_contract::sha256_hex(text.as_bytes())
}

/// A digest naming an Arrow schema exactly: of each field's Debug form (name, type,
/// nullability, metadata) and the schema's metadata in key order.
fn schema_key(schema: &Schema) -> String {
    let metadata: BTreeMap<_, _> = schema.metadata().iter().collect();
    rulec_contract::sha256_hex(format!("{:?} {metadata:?}", schema.fields()).as_bytes())
}

/// [`compile_pack_with`], reusing the results `memo` holds (see [`RuleMemo`]).
pub fn compile_pack_memo(pack: &Pack, threads: usize, memo: &dyn RuleMemo) -> CompiledPack {
    let pipeline = Pipeline::new();
    let mut outputs: BTreeMap<String, SchemaRef> = BTreeMap::new();
    // Each table's part of its readers' keys, computed once.
    let mut table_keys: BTreeMap<String, String> = pack
        .contracts
        .iter()
        .map(|(name, c)| (name.clone(), contract_table_key(&c.schema)))
        .collect();
    let mut results: Vec<Option<CompiledRule>> = pack.rules.iter().map(|_| None).collect();
    for level in levels(pack) {
        let level_indices = level.clone();
        // Results the memo holds are taken first; the rest of the level is planned.
        let mut to_plan: Vec<(usize, String)> = Vec::new();
        for &index in &level {
            let rule = &pack.rules[index];
            let mut key = rule_key(pack, rule, &|name| table_keys.get(name).cloned());
            let salt = memo.salt(pack, rule);
            if !salt.is_empty() {
                key = rulec_contract::sha256_hex(format!("{key}\n{salt}").as_bytes());
            }
            match memo.lookup(&key) {
                Some(mut reused) => {
                    reused.name = rule.name.clone();
                    reused.file = rule.file.clone();
                    reused.key = key;
                    reused.reused = true;
                    reused.compile_time = std::time::Duration::ZERO;
                    results[index] = Some(reused);
                }
                None => to_plan.push((index, key)),
            }
        }
        let compile_one = |(index, key): &(usize, String)| {
            let rule = &pack.rules[*index];
            let started = std::time::Instant::now();
            // A panic in the engine is a finding about this rule, not the end of the process
            // (a language server checks every keystroke's text).
            let mut compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut compiled = compile_rule(pack, rule, &pipeline, &outputs);
                memo.finish(pack, &mut compiled);
                compiled
            }))
            .unwrap_or_else(|panic| panicked(rule, panic.as_ref()));
            compiled.compile_time = started.elapsed();
            compiled.key = key.clone();
            (*index, compiled)
        };
        let level = to_plan;
        let workers = threads.clamp(1, level.len().max(1));
        let compiled: Vec<(usize, CompiledRule)> = std::thread::scope(|scope| {
            let chunks: Vec<&[(usize, String)]> =
                level.chunks(level.len().div_ceil(workers).max(1)).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    spawn_planning_thread(scope, move || {
                        chunk.iter().map(compile_one).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(join_planning_thread).collect()
        });
        for (index, compiled) in compiled {
            results[index] = Some(compiled);
        }
        // A rule compiled when it has an output schema; its readers see that schema.
        for &index in &level_indices {
            if let Some(schema) = results[index]
                .as_ref()
                .and_then(|r| r.output_schema.as_ref())
            {
                let name = &pack.rules[index].name;
                table_keys
                    .entry(name.clone())
                    .or_insert_with(|| rule_table_key(schema));
                outputs.insert(name.clone(), Arc::clone(schema));
            }
        }
    }
    CompiledPack {
        rules: results.into_iter().flatten().collect(),
    }
}

/// Rule indices grouped by dependency level, in pack order within a level. Rules in a cycle,
/// and rules that read them, form the last level (they are not planned).
fn levels(pack: &Pack) -> Vec<Vec<usize>> {
    let mut level_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut levels: Vec<Vec<usize>> = Vec::new();
    let mut cyclic = Vec::new();
    for (index, rule) in pack.rules.iter().enumerate() {
        let blocked = rule
            .upstream_rules
            .iter()
            .any(|u| !level_of.contains_key(u.as_str()));
        if rule.in_cycle || blocked {
            cyclic.push(index);
            continue;
        }
        let level = rule
            .upstream_rules
            .iter()
            .filter_map(|u| level_of.get(u.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level_of.insert(rule.name.as_str(), level);
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(index);
    }
    if !cyclic.is_empty() {
        levels.push(cyclic);
    }
    levels
}

/// The functions in `plan` (subqueries included) whose value may change from one run to the
/// next: every scalar function that is not immutable (`random()`, `uuid()`, `now()`,
/// `current_date()`, …), by name, in plan order, without repeats.
pub fn volatile_functions(plan: &LogicalPlan) -> Vec<String> {
    use datafusion_common::tree_node::{TreeNode as _, TreeNodeRecursion};
    let mut names: Vec<String> = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            let _ = expr.apply(|e| {
                if let datafusion_expr::Expr::ScalarFunction(f) = e
                    && f.func.signature().volatility != datafusion_expr::Volatility::Immutable
                    && !names.iter().any(|n| n == f.name())
                {
                    names.push(f.name().to_owned());
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}

/// Every struct field name inside the columns of the tables a rule reads (through lists and
/// maps), for suggestions when a nested field is misspelled.
fn nested_field_names<'a>(
    tables: impl Iterator<Item = &'a Arc<dyn TableSource>>,
) -> BTreeSet<String> {
    fn walk(ty: &arrow_schema::DataType, out: &mut BTreeSet<String>) {
        use arrow_schema::DataType;
        match ty {
            DataType::Struct(fields) => {
                for f in fields {
                    out.insert(f.name().clone());
                    walk(f.data_type(), out);
                }
            }
            DataType::List(f) | DataType::LargeList(f) | DataType::Map(f, _) => {
                walk(f.data_type(), out)
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for table in tables {
        for field in table.schema().fields() {
            walk(field.data_type(), &mut out);
        }
    }
    out
}

/// Tables a rule may read: every contract and every compiled rule except itself.
fn visible_tables(
    pack: &Pack,
    rule_name: &str,
    outputs: &BTreeMap<String, SchemaRef>,
) -> BTreeMap<String, Arc<dyn TableSource>> {
    let mut tables: BTreeMap<String, Arc<dyn TableSource>> = BTreeMap::new();
    for (name, contract) in &pack.contracts {
        tables.insert(
            name.clone(),
            Arc::new(SchemaTable::new(Arc::clone(&contract.schema))),
        );
    }
    for (name, schema) in outputs {
        if name != rule_name {
            tables.insert(name.clone(), Arc::new(SchemaTable::new(Arc::clone(schema))));
        }
    }
    tables
}

/// Plans SQL text as rule `rule_name` of `pack` would be planned (same tables, options and
/// pipeline) and returns the canonical plan.
pub fn plan_sql(
    pack: &Pack,
    compiled: &CompiledPack,
    rule_name: &str,
    sql: &str,
) -> Result<LogicalPlan, String> {
    plan_sql_in(pack, compiled, rule_name, sql, pack.dialect)
}

/// [`plan_sql`] with `sql` read in `dialect` instead of the pack's.
pub fn plan_sql_in(
    pack: &Pack,
    compiled: &CompiledPack,
    rule_name: &str,
    sql: &str,
    dialect: rulec_syntax::SqlDialect,
) -> Result<LogicalPlan, String> {
    let plan = initial_plan_of_sql(pack, compiled, rule_name, sql, dialect)?;
    Pipeline::new()
        .run(plan, |_, _| {})
        .map_err(|e| clean_message(&e))
}

/// The plan DataFusion's SQL planner makes of `sql` as rule `rule_name` of `pack`, before
/// the pipeline: what [`CompiledRule::initial_plan`] is for the rule's own text.
pub fn initial_plan_of_sql(
    pack: &Pack,
    compiled: &CompiledPack,
    rule_name: &str,
    sql: &str,
    dialect: rulec_syntax::SqlDialect,
) -> Result<LogicalPlan, String> {
    let parsed = rulec_syntax::parse_rule(rule_name, sql, dialect).map_err(|d| {
        d.iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let outputs: BTreeMap<String, SchemaRef> = compiled
        .rules
        .iter()
        .filter_map(|r| r.output_schema.clone().map(|s| (r.name.clone(), s)))
        .collect();
    let pipeline = Pipeline::new();
    let context = RuleContext {
        tables: visible_tables(pack, rule_name, &outputs),
        options: pipeline.options(),
        functions: Functions::get(),
    };
    let planner = SqlToRel::new_with_options(
        &context,
        ParserOptions::from(&pipeline.options().sql_parser),
    );
    planner
        .sql_statement_to_plan(parsed.statement)
        .map_err(|e| clean_message(&e))
}

/// The first line of a message, at most 200 characters (engine messages can embed plan dumps).
pub(crate) fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// The result of a rule whose planning panicked: a `Q900` finding with the panic's message.
fn panicked(rule: &Rule, panic: &(dyn std::any::Any + Send)) -> CompiledRule {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let mut result = empty(rule);
    result.diagnostics.push(
        Diagnostic::error(
            codes::INTERNAL_ERROR,
            format!("planning this rule panicked: {}", first_line(message)),
        )
        .in_file(rule.file.clone())
        .with_note("this is a bug in rulec or DataFusion; please report it with the rule's text"),
    );
    result
}

fn empty(rule: &Rule) -> CompiledRule {
    CompiledRule {
        name: rule.name.clone(),
        file: rule.file.clone(),
        initial_plan: None,
        plan: None,
        output_schema: None,
        fingerprint: None,
        schema_fingerprint: None,
        diagnostics: Vec::new(),
        compile_time: std::time::Duration::ZERO,
        phase_times: PhaseTimes::default(),
        key: String::new(),
        reused: false,
    }
}

fn compile_rule(
    pack: &Pack,
    rule: &Rule,
    pipeline: &Pipeline,
    outputs: &BTreeMap<String, SchemaRef>,
) -> CompiledRule {
    let mut result = empty(rule);
    let Some(parsed) = rule.parsed() else {
        return result; // The parse error is already a pack diagnostic.
    };
    if rule.in_cycle {
        return result; // The cycle is already a pack diagnostic.
    }
    let failed_upstream: Vec<&String> = rule
        .upstream_rules
        .iter()
        .filter(|u| !outputs.contains_key(*u))
        .collect();
    if !failed_upstream.is_empty() {
        let names: Vec<String> = failed_upstream.iter().map(|u| format!("`{u}`")).collect();
        let span = parsed
            .table_refs
            .iter()
            .find(|r| rule.upstream_rules.contains(&r.name) && !outputs.contains_key(&r.name))
            .and_then(|r| r.span);
        result.diagnostics.push(
            Diagnostic::warning(
                codes::UPSTREAM_FAILED,
                format!(
                    "not checked: it reads {} which failed to compile",
                    names.join(", ")
                ),
            )
            .in_file(rule.file.clone())
            .at_opt(span),
        );
        return result;
    }

    let tables = visible_tables(pack, &rule.name, outputs);
    for table_ref in &parsed.table_refs {
        if !tables.contains_key(&table_ref.name) {
            let known: Vec<&str> = pack
                .contracts
                .keys()
                .chain(pack.rules.iter().map(|r| &r.name))
                .filter(|n| *n != &rule.name)
                .map(String::as_str)
                .collect();
            let mut d = Diagnostic::error(
                codes::UNKNOWN_TABLE,
                if table_ref.name == rule.name {
                    format!("rule `{}` reads itself", rule.name)
                } else {
                    format!(
                        "table `{}` is neither an input contract nor a rule",
                        table_ref.written
                    )
                },
            )
            .in_file(rule.file.clone())
            .at_opt(table_ref.span);
            if let Some(candidate) = did_you_mean(&table_ref.name, known) {
                d = d.with_help(format!("did you mean `{candidate}`?"));
            }
            result.diagnostics.push(d);
        }
    }
    if !result.diagnostics.is_empty() {
        return result;
    }

    let duplicates = rulec_syntax::duplicate_output_names(&parsed.statement);
    if !duplicates.is_empty() {
        for (name, span) in duplicates {
            result.diagnostics.push(
                Diagnostic::error(
                    codes::DUPLICATE_OUTPUT_COLUMN,
                    format!("the rule has two output columns named `{name}`"),
                )
                .in_file(rule.file.clone())
                .at_opt(span)
                .with_help("rename one of them with AS"),
            );
        }
        return result;
    }
    let context = RuleContext {
        tables,
        options: pipeline.options(),
        functions: Functions::get(),
    };
    let planner = SqlToRel::new_with_options(
        &context,
        ParserOptions::from(&pipeline.options().sql_parser),
    );
    let located = |err: &datafusion_common::DataFusionError| {
        let mut d = plan_error_diagnostic(&rule.file, err);
        if d.span.is_none()
            && let Some(mismatch) = errors::operator_mismatch(err)
        {
            d.span = rulec_syntax::locate_binary_operator(
                &parsed.statement,
                &mismatch.op,
                mismatch.left_span,
            );
        }
        if d.span.is_none() {
            d.span = rulec_syntax::locate_error(&parsed.statement, &rule.text, &d.message);
        }
        if let Some(field) = d
            .message
            .strip_prefix("Field ")
            .and_then(|m| m.strip_suffix(" not found in struct"))
            && let Some(candidate) = did_you_mean(
                field,
                nested_field_names(
                    parsed
                        .table_refs
                        .iter()
                        .filter_map(|r| context.tables.get(&r.name)),
                )
                .iter()
                .map(String::as_str),
            )
        {
            d = d.with_help(format!("did you mean the struct field `{candidate}`?"));
        }
        d
    };
    let started = std::time::Instant::now();
    let initial = match planner.sql_statement_to_plan(parsed.statement.clone()) {
        Ok(plan) => plan,
        Err(err) => {
            result.diagnostics.push(located(&err));
            return result;
        }
    };
    result.phase_times.sql_to_rel = started.elapsed();
    if let Some(hazard) = hazards::wrong_result_hazard(&initial) {
        let span = hazard.span.or_else(|| {
            ["ANY", "ALL"]
                .into_iter()
                .find_map(|word| rulec_syntax::find_keywords(&rule.text, pack.dialect, &[word]))
        });
        result.diagnostics.push(
            Diagnostic::error(codes::UNSUPPORTED_SQL, hazard.message)
                .in_file(rule.file.clone())
                .at_opt(span)
                .with_help(hazard.help),
        );
        return result;
    }
    // Type coercion happens in the pipeline's analyzer: its errors are the rule's too.
    let mut pass_started = std::time::Instant::now();
    let passes = &mut result.phase_times.passes;
    let canonical = match pipeline.run(initial.clone(), |pass, _| {
        let now = std::time::Instant::now();
        *passes.entry(pass.to_owned()).or_default() += now - pass_started;
        pass_started = now;
    }) {
        Ok(plan) => plan,
        Err(err) => {
            result.diagnostics.push(located(&err));
            return result;
        }
    };
    let volatile = volatile_functions(&canonical);
    if let Some(name) = volatile.first() {
        let called: Vec<String> = volatile.iter().map(|n| format!("`{n}()`")).collect();
        result.diagnostics.push(
            Diagnostic::warning(
                codes::VOLATILE_FUNCTION,
                if called.len() == 1 {
                    format!("{} returns a different value on every run", called[0])
                } else {
                    format!("{} return different values on every run", called.join(", "))
                },
            )
            .in_file(rule.file.clone())
            .at_opt(rulec_syntax::first_word_span(&rule.text, pack.dialect, name))
            .with_note("`rulec run` rebuilds this product, and the products that read it, on every run")
            .with_help("compute the value in the data, or allow `volatile-function` in pack.yaml's `lints:` if a fresh value each run is intended"),
        );
    }
    let output_schema: SchemaRef = Arc::new(Schema::new(
        canonical
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
    ));
    let started = std::time::Instant::now();
    result.fingerprint = Some(fingerprint(pipeline, &canonical));
    result.phase_times.fingerprint = started.elapsed();
    let mut output_schema = output_schema;
    if let Some(contract) = pack.output_contracts.get(&rule.name) {
        let findings = output_contract::check_output_contract(
            &rule.file,
            &parsed.statement,
            &output_schema,
            contract,
        );
        if !findings.iter().any(Diagnostic::is_error) {
            // What is written, and what downstream rules read, is the contract's schema.
            output_schema = output_contract::contract_schema(&output_schema, contract);
        }
        result.diagnostics.extend(findings);
    }
    result.schema_fingerprint = Some(rulec_contract::schema_fingerprint(
        &output_schema,
        &BTreeMap::new(),
    ));
    result.output_schema = Some(output_schema);
    result.initial_plan = Some(initial);
    result.plan = Some(canonical);
    result
}

#[cfg(test)]
mod tests;
