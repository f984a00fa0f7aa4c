//! Lineage of a whole pack: rule lineage composed through upstream rules down to contract
//! columns, what each rule reads, and what no rule reads.

use crate::path::{ColumnRef, Step};
use crate::plan::{add, plan_lineage};
use crate::{Deps, EdgeKind};
use arrow_schema::{DataType, SchemaRef};
use rulec_compile::CompiledPack;
use rulec_pack::Pack;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One rule's lineage, one hop: sources are contract columns or upstream rules' columns.
#[derive(Debug, Clone)]
pub struct RuleLineage {
    pub name: String,
    /// Output columns in order, each with its sources.
    pub columns: Vec<(String, Deps)>,
    /// What decides which rows the rule has (also an inspect source of every column).
    pub rows: BTreeSet<ColumnRef>,
}

impl RuleLineage {
    pub fn column(&self, name: &str) -> Option<&Deps> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, d)| d)
    }
}

/// An edge of the lineage graph: `to` (a rule's output column) depends on `from`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: ColumnRef,
    pub to: ColumnRef,
    pub kind: EdgeKind,
}

/// The lineage of every compiled rule of a pack.
#[derive(Debug, Clone)]
pub struct PackLineage {
    pub pack: String,
    /// The contracts (input tables) and their schemas.
    pub inputs: BTreeMap<String, SchemaRef>,
    /// Compiled rules in dependency order.
    pub rules: Vec<RuleLineage>,
    /// Per rule, per column: dependencies on contract columns only.
    resolved: BTreeMap<String, Vec<Deps>>,
}

impl PackLineage {
    /// Lineage of every rule of `compiled` that has a canonical plan.
    pub fn build(pack: &Pack, compiled: &CompiledPack) -> Self {
        let inputs: BTreeMap<String, SchemaRef> = pack
            .contracts
            .iter()
            .map(|(name, c)| (name.clone(), c.schema.clone()))
            .collect();
        let mut rules = Vec::new();
        for rule in &compiled.rules {
            let Some(plan) = &rule.plan else { continue };
            let node = plan_lineage(plan);
            let rows = node.rows.clone();
            let deps = node.finish();
            let columns = plan
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .zip(deps)
                .collect();
            rules.push(RuleLineage {
                name: rule.name.clone(),
                columns,
                rows,
            });
        }
        let mut lineage = PackLineage {
            pack: pack.manifest.name.clone(),
            inputs,
            rules,
            resolved: BTreeMap::new(),
        };
        lineage.resolve_all();
        lineage
    }

    fn resolve_all(&mut self) {
        for rule in &self.rules {
            let mut columns = Vec::new();
            for (_, deps) in &rule.columns {
                let mut out = Deps::new();
                for (source, kind) in deps {
                    if source.is_rows()
                        && let Some(upstream) = self.resolved_rows(&source.table)
                    {
                        for input in upstream {
                            add(&mut out, input, kind.compose(EdgeKind::Inspect));
                        }
                        continue;
                    }
                    match self.resolved_column(&source.table, &source.column) {
                        Some(upstream) => {
                            for (input, inner) in upstream {
                                add(
                                    &mut out,
                                    through(input, *inner, source),
                                    kind.compose(*inner),
                                );
                            }
                        }
                        None => add(&mut out, source.clone(), *kind),
                    }
                }
                columns.push(out);
            }
            self.resolved.insert(rule.name.clone(), columns);
        }
    }

    /// What decides a rule's rows, on contract columns (`None` for anything but a rule).
    fn resolved_rows(&self, rule: &str) -> Option<BTreeSet<ColumnRef>> {
        let r = self.rule(rule)?;
        let mut out = BTreeSet::new();
        for source in &r.rows {
            if source.is_rows() {
                match self.resolved_rows(&source.table) {
                    Some(upstream) => out.extend(upstream),
                    None => {
                        out.insert(source.clone());
                    }
                }
                continue;
            }
            match self.resolved_column(&source.table, &source.column) {
                Some(deps) => out.extend(
                    deps.iter()
                        .map(|(input, inner)| through(input, *inner, source)),
                ),
                None => {
                    out.insert(source.clone());
                }
            }
        }
        Some(out)
    }

    /// A rule column's dependencies on contract columns (`None` for anything else).
    fn resolved_column(&self, rule: &str, column: &str) -> Option<&Deps> {
        let index = self
            .rule(rule)?
            .columns
            .iter()
            .position(|(n, _)| n == column)?;
        self.resolved.get(rule)?.get(index)
    }

    pub fn rule(&self, name: &str) -> Option<&RuleLineage> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub fn is_input(&self, name: &str) -> bool {
        self.inputs.contains_key(name)
    }

    /// A rule column's dependencies on contract columns, through upstream rules.
    pub fn input_deps(&self, rule: &str, column: &str) -> Deps {
        self.resolved_column(rule, column)
            .cloned()
            .unwrap_or_default()
    }

    /// Every one-hop edge of the pack, sorted.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        for rule in &self.rules {
            for (column, deps) in &rule.columns {
                for (from, kind) in deps {
                    edges.push(Edge {
                        from: from.clone(),
                        to: ColumnRef::new(&rule.name, column),
                        kind: *kind,
                    });
                }
            }
        }
        edges.sort();
        edges
    }

    /// What `rule` reads (its requirements): every column or field of its inputs and
    /// upstream rules that any of its columns depends on.
    pub fn reads(&self, rule: &str) -> BTreeSet<ColumnRef> {
        self.rule(rule)
            .map(|r| {
                r.columns
                    .iter()
                    .flat_map(|(_, d)| d.keys().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The top-level columns of `table` that `rule` reads: what a scan must read.
    pub fn scanned_columns(&self, rule: &str, table: &str) -> BTreeSet<String> {
        self.reads(rule)
            .into_iter()
            .filter(|c| c.table == table)
            .map(|c| c.column)
            .collect()
    }

    /// Contract columns and fields that no rule reads, as coarse as possible (a column
    /// that nothing reads is listed once, not field by field).
    pub fn unused_inputs(&self) -> Vec<ColumnRef> {
        let reads: Vec<ColumnRef> = self
            .rules
            .iter()
            .flat_map(|r| self.reads(&r.name))
            .filter(|c| self.is_input(&c.table))
            .collect();
        let mut out = Vec::new();
        for (table, schema) in &self.inputs {
            for field in schema.fields() {
                let column = ColumnRef::new(table, field.name());
                collect_unused(&column, field.data_type(), &reads, &mut out);
            }
        }
        out
    }

    /// The edges upstream of `start` (rule columns), followed through rules to inputs.
    pub fn upstream(&self, start: &[ColumnRef]) -> Vec<Edge> {
        let mut edges = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<ColumnRef> = start.iter().map(ColumnRef::top).collect();
        while let Some(target) = queue.pop_front() {
            if !seen.insert(target.clone()) {
                continue;
            }
            let Some(rule) = self.rule(&target.table) else {
                continue;
            };
            // The rows of a rule come from what decides them.
            let rows: Deps;
            let deps = if target.is_rows() {
                rows = rule
                    .rows
                    .iter()
                    .map(|s| (s.clone(), EdgeKind::Inspect))
                    .collect();
                &rows
            } else {
                match rule.column(&target.column) {
                    Some(deps) => deps,
                    None => continue,
                }
            };
            for (from, kind) in deps {
                edges.insert(Edge {
                    from: from.clone(),
                    to: target.clone(),
                    kind: *kind,
                });
                if self.rule(&from.table).is_some() {
                    queue.push_back(from.top());
                }
            }
        }
        edges.into_iter().collect()
    }

    /// The edges downstream of `start`: every rule column that reads it (or a field of it,
    /// or the struct it is in), and what reads those, transitively.
    pub fn downstream(&self, start: &[ColumnRef]) -> Vec<Edge> {
        let mut edges = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<ColumnRef> = start.iter().cloned().collect();
        while let Some(source) = queue.pop_front() {
            if !seen.insert(source.clone()) {
                continue;
            }
            for rule in &self.rules {
                for (column, deps) in &rule.columns {
                    for (from, kind) in deps {
                        if from.overlaps(&source) {
                            let to = ColumnRef::new(&rule.name, column);
                            edges.insert(Edge {
                                from: from.clone(),
                                to: to.clone(),
                                kind: *kind,
                            });
                            queue.push_back(to);
                        }
                    }
                }
            }
        }
        edges.into_iter().collect()
    }

    /// The output columns of a table (rule or input), as references.
    pub fn columns_of(&self, table: &str) -> Option<Vec<ColumnRef>> {
        if let Some(rule) = self.rule(table) {
            return Some(
                rule.columns
                    .iter()
                    .map(|(n, _)| ColumnRef::new(table, n))
                    .collect(),
            );
        }
        self.inputs.get(table).map(|schema| {
            schema
                .fields()
                .iter()
                .map(|f| ColumnRef::new(table, f.name()))
                .collect()
        })
    }
}

/// The input a read of `source` (a rule column, maybe a field of it) reaches through one
/// of that column's dependencies: the field path follows a copy, not a computation.
fn through(input: &ColumnRef, kind: EdgeKind, source: &ColumnRef) -> ColumnRef {
    if kind == EdgeKind::Copy {
        input.nested(&source.steps)
    } else {
        input.clone()
    }
}

/// Adds to `out` the parts of `column` (of type `ty`) that no read overlaps.
fn collect_unused(
    column: &ColumnRef,
    ty: &DataType,
    reads: &[ColumnRef],
    out: &mut Vec<ColumnRef>,
) {
    let overlapping: Vec<&ColumnRef> = reads.iter().filter(|r| r.overlaps(column)).collect();
    if overlapping.is_empty() {
        out.push(column.clone());
        return;
    }
    // Read whole (or a read stops at this level): nothing below is unused.
    if overlapping
        .iter()
        .any(|r| r.steps.len() <= column.steps.len())
    {
        return;
    }
    match ty {
        DataType::Struct(fields) => {
            for field in fields {
                let child = column.nested(&[Step::Field(field.name().clone())]);
                collect_unused(&child, field.data_type(), reads, out);
            }
        }
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            let child = column.nested(&[Step::Each]);
            collect_unused(&child, item.data_type(), reads, out);
        }
        _ => {}
    }
}
