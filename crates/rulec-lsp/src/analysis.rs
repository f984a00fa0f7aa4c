//! What the server knows about a place in a rule: the names in scope, what a dotted name
//! resolves to (a table, a column and its nested fields, an output column, a function),
//! and the answers built from that: hover text, definitions, references, completions,
//! symbols and quick fixes. Pure functions over a checked [`Project`].

use arrow_schema::{DataType, Field, FieldRef};
use rulec_compile::datafusion_common::tree_node::TreeNodeRecursion;
use rulec_compile::datafusion_expr::LogicalPlan;
use rulec_contract::render_type;
use rulec_diagnostics::{Diagnostic, Span};
use rulec_driver::Project;
use rulec_lineage::{ColumnRef, Deps, EdgeKind, PackLineage, Step};
use rulec_pack::Pack;
use rulec_syntax::Outline;
use std::collections::BTreeSet;

pub use crate::completion::{CompletionKind, completions};

/// A relation a rule's query can name: a table (by its name or alias), a CTE, a derived
/// table.
#[derive(Debug, Clone)]
pub struct ScopeRelation {
    /// The name the query uses.
    pub name: String,
    /// The pack table (input contract or rule) it reads directly, if any.
    pub table: Option<String>,
    pub fields: Vec<FieldRef>,
    /// For a CTE or derived table: each field's lineage, one hop down to the tables the
    /// rule reads (empty when unknown).
    pub lineage: Vec<Deps>,
}

/// The relations of one rule.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub relations: Vec<ScopeRelation>,
    pub outline: Outline,
}

impl Scope {
    pub(crate) fn relation(&self, name: &str) -> Option<&ScopeRelation> {
        self.relations.iter().find(|r| r.name == name)
    }

    /// The first relation with a column `name`.
    pub(crate) fn column(&self, name: &str) -> Option<(&ScopeRelation, &FieldRef)> {
        self.relations
            .iter()
            .find_map(|r| r.fields.iter().find(|f| f.name() == name).map(|f| (r, f)))
    }
}

/// The scope of rule `rule` as the pack's last check left it, or `None` when the rule's
/// text does not parse.
pub fn scope(project: &Project, rule: &str) -> Option<Scope> {
    let pack = project.pack.as_ref()?;
    let parsed = pack.rule(rule)?.parsed()?;
    let outline = rulec_syntax::outline(&parsed.statement);
    let compiled = project.compiled.as_ref().and_then(|c| c.rule(rule));
    // Relations the plan names (CTEs and derived tables included), with their schemas and
    // their columns' lineage.
    let mut planned: Vec<(String, Vec<FieldRef>, Vec<Deps>)> = Vec::new();
    if let Some(plan) = compiled.and_then(|c| c.initial_plan.as_ref()) {
        let _ = plan.apply_with_subqueries(|node| {
            if let LogicalPlan::SubqueryAlias(alias) = node {
                let fields = alias.schema.fields().iter().cloned().collect();
                let lineage = rulec_lineage::plan_columns(node);
                planned.push((alias.alias.table().to_owned(), fields, lineage));
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    let mut relations: Vec<ScopeRelation> = Vec::new();
    for relation in &outline.relations {
        if relations.iter().any(|r| r.name == relation.name) {
            continue;
        }
        let (table, fields, lineage) = match table_fields(project, pack, &relation.table) {
            Some(fields) => (Some(relation.table.clone()), fields, Vec::new()),
            None => planned
                .iter()
                .find(|(name, _, _)| *name == relation.name || *name == relation.table)
                .map(|(_, f, l)| (None, f.clone(), l.clone()))
                .unwrap_or_default(),
        };
        relations.push(ScopeRelation {
            name: relation.name.clone(),
            table,
            fields,
            lineage,
        });
    }
    for (name, fields, lineage) in planned {
        if !relations.iter().any(|r| r.name == name) {
            relations.push(ScopeRelation {
                name,
                table: None,
                fields,
                lineage,
            });
        }
    }
    Some(Scope { relations, outline })
}

/// The columns of a pack table: an input contract's, or a compiled rule's output.
fn table_fields(project: &Project, pack: &Pack, table: &str) -> Option<Vec<FieldRef>> {
    if let Some(contract) = pack.contracts.get(table) {
        return Some(contract.schema.fields().iter().cloned().collect());
    }
    pack.rule(table)?;
    let schema = project
        .compiled
        .as_ref()?
        .rule(table)?
        .output_schema
        .clone()?;
    Some(schema.fields().iter().cloned().collect())
}

/// What a name in a rule refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// An input contract or a rule, by table name.
    Table(String),
    /// A CTE or derived table of this rule.
    Local(String),
    /// A column of a relation in scope, or a field nested in it.
    Column {
        /// The pack table the column belongs to, when the relation reads one directly.
        table: Option<String>,
        relation: String,
        column: String,
        steps: Vec<String>,
        data_type: DataType,
        nullable: bool,
        /// For a column of a CTE or derived table: its lineage down to the tables the rule
        /// reads, with `steps` applied.
        sources: Deps,
    },
    /// An output column of this rule, where it is named.
    Output(String),
    /// A function.
    Function(String),
}

/// The target of the name at a 1-based line and character column of `rule`'s `text`.
pub fn resolve(
    project: &Project,
    scope: &Scope,
    rule: &str,
    text: &str,
    line: u32,
    column: u32,
) -> Option<(Target, Span)> {
    let pack = project.pack.as_ref()?;
    let name = rulec_syntax::dotted_name_at(text, pack.dialect, line, column)?;
    let span = name.spans[name.index];
    let upto = &name.parts[..=name.index];
    let on = |s: &Option<Span>| s.is_some_and(|s| s.start == span.start);
    if upto.len() == 1 {
        let word = &upto[0];
        if scope.outline.outputs.iter().any(|o| on(&o.span)) {
            return Some((Target::Output(word.clone()), span));
        }
        if scope.outline.ctes.iter().any(|c| on(&c.span)) {
            return Some((Target::Local(word.clone()), span));
        }
        // A table name where it is written in FROM.
        if let Some(relation) = scope.outline.relations.iter().find(|r| {
            r.span
                .is_some_and(|s| s.end == span.end && s.start.line == span.start.line)
        }) {
            return Some((table_or_local(pack, &relation.table, rule), span));
        }
        let followed_by_dot = name.parts.len() > 1;
        if !followed_by_dot && let Some(target) = column_target(scope, None, word, &[]) {
            return Some((target, span));
        }
        if let Some(relation) = scope.relation(word) {
            return Some((
                match &relation.table {
                    Some(table) => Target::Table(table.clone()),
                    None => Target::Local(relation.name.clone()),
                },
                span,
            ));
        }
        if pack.contracts.contains_key(word) || (pack.rule(word).is_some() && word != rule) {
            return Some((Target::Table(word.clone()), span));
        }
        if function_names().contains(word.as_str()) {
            return Some((Target::Function(word.clone()), span));
        }
        return None;
    }
    let target = if scope.relation(&upto[0]).is_some() {
        column_target(scope, Some(&upto[0]), &upto[1], &upto[2..])
    } else {
        column_target(scope, None, &upto[0], &upto[1..])
    };
    target.map(|t| (t, span))
}

fn table_or_local(pack: &Pack, table: &str, rule: &str) -> Target {
    if pack.contracts.contains_key(table) || (pack.rule(table).is_some() && table != rule) {
        Target::Table(table.to_owned())
    } else {
        Target::Local(table.to_owned())
    }
}

fn column_target(
    scope: &Scope,
    relation: Option<&str>,
    column: &str,
    steps: &[String],
) -> Option<Target> {
    let (relation, field) = match relation {
        Some(name) => {
            let relation = scope.relation(name)?;
            (
                relation,
                relation.fields.iter().find(|f| f.name() == column)?,
            )
        }
        None => scope.column(column)?,
    };
    let (data_type, nullable) = nested(field, steps)?;
    let index = relation.fields.iter().position(|f| f.name() == column);
    let nested_steps: Vec<Step> = steps.iter().map(|s| Step::Field(s.clone())).collect();
    let sources = index
        .and_then(|i| relation.lineage.get(i))
        .map(|deps| {
            deps.iter()
                .map(|(source, kind)| match kind {
                    // The value's fields are the source's fields; what filters rows is not.
                    EdgeKind::Copy | EdgeKind::Transform => (source.nested(&nested_steps), *kind),
                    EdgeKind::Inspect => (source.clone(), *kind),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Target::Column {
        table: relation.table.clone(),
        relation: relation.name.clone(),
        column: column.to_owned(),
        steps: steps.to_vec(),
        data_type,
        nullable,
        sources,
    })
}

/// The type and nullability of the field `steps` below `field` (through list elements and
/// map values).
pub(crate) fn nested(field: &Field, steps: &[String]) -> Option<(DataType, bool)> {
    let mut current = (field.data_type().clone(), field.is_nullable());
    for step in steps {
        let fields = struct_fields(&current.0)?;
        let next = fields.iter().find(|f| f.name() == step)?;
        current = (next.data_type().clone(), current.1 || next.is_nullable());
    }
    Some(current)
}

/// The struct fields a value of `ty` has, looking through lists and maps.
pub fn struct_fields(ty: &DataType) -> Option<Vec<FieldRef>> {
    match ty {
        DataType::Struct(fields) => Some(fields.iter().cloned().collect()),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            struct_fields(f.data_type())
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) => kv.get(1).and_then(|v| struct_fields(v.data_type())),
            _ => None,
        },
        _ => None,
    }
}

/// Every function name and alias the planner knows.
pub(crate) fn function_names() -> &'static BTreeSet<&'static str> {
    static NAMES: std::sync::LazyLock<BTreeSet<&'static str>> = std::sync::LazyLock::new(|| {
        let functions = rulec_compile::Functions::get();
        functions
            .scalar
            .keys()
            .chain(functions.aggregate.keys())
            .chain(functions.window.keys())
            .chain(functions.higher_order.keys())
            .map(String::as_str)
            .collect()
    });
    &NAMES
}

/// A function's syntax and description, from DataFusion's documentation.
pub fn function_doc(name: &str) -> Option<(String, String)> {
    let functions = rulec_compile::Functions::get();
    let doc = functions
        .scalar
        .get(name)
        .and_then(|f| f.documentation())
        .or_else(|| {
            functions
                .aggregate
                .get(name)
                .and_then(|f| f.documentation())
        })
        .or_else(|| functions.window.get(name).and_then(|f| f.documentation()))
        .or_else(|| {
            functions
                .higher_order
                .get(name)
                .and_then(|f| f.documentation())
        });
    match doc {
        Some(doc) => Some((doc.syntax_example.clone(), doc.description.clone())),
        None => function_names()
            .contains(name)
            .then(|| (format!("{name}(...)"), String::new())),
    }
}

/// One line of lineage: `copy of t.a`, `transform of t.a, t.b; inspects t.c`.
pub fn lineage_line(deps: &Deps) -> Option<String> {
    let of = |kind: EdgeKind| -> Vec<String> {
        deps.iter()
            .filter(|(_, k)| **k == kind)
            .map(|(c, _)| c.to_string())
            .collect()
    };
    let mut parts = Vec::new();
    for (kind, word) in [
        (EdgeKind::Copy, "copy of"),
        (EdgeKind::Transform, "transform of"),
        (EdgeKind::Inspect, "inspects"),
    ] {
        let sources = of(kind);
        if !sources.is_empty() {
            parts.push(format!("{word} {}", sources.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The lineage of a column of a pack table: a rule's column through its inputs; an input
/// column is its own source.
fn column_lineage(lineage: &PackLineage, table: &str, column: &ColumnRef) -> Option<String> {
    if lineage.is_input(table) {
        return Some(format!("input column {column}"));
    }
    let deps = lineage.input_deps(table, &column.column);
    let mut line = lineage_line(&deps)?;
    if !column.steps.is_empty() {
        line = format!("{} of {line}", column.path());
    }
    Some(line)
}

fn column_ref(table: &str, column: &str, steps: &[String]) -> ColumnRef {
    let steps: Vec<Step> = steps.iter().map(|s| Step::Field(s.clone())).collect();
    ColumnRef::new(table, column).nested(&steps)
}

/// The hover text (Markdown) of a target.
pub fn hover(
    project: &Project,
    lineage: &PackLineage,
    rule: &str,
    target: &Target,
) -> Option<String> {
    let pack = project.pack.as_ref()?;
    match target {
        Target::Column {
            table,
            relation,
            column,
            steps,
            data_type,
            nullable,
            sources,
        } => {
            let path = std::iter::once(column.as_str())
                .chain(steps.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(".");
            let mut text = format!(
                "```sql\n{relation}.{path}: {}{}\n```",
                render_type(data_type),
                if *nullable { "" } else { " NOT NULL" }
            );
            if let Some(table) = table {
                if let Some(contract) = pack.contracts.get(table)
                    && let Some(declared) = contract.columns.iter().find(|c| c.name == *column)
                {
                    let (line_text, comment) =
                        contract_line(project, &contract.file, declared.span);
                    let line = declared.span.map_or(0, |s| s.start.line);
                    text.push_str(&format!(
                        "\n\ninput `{table}`, {}:{line}: `{}`",
                        contract.file,
                        line_text.trim()
                    ));
                    if let Some(comment) = comment {
                        text.push_str(&format!("\n\n{comment}"));
                    }
                } else if pack.rule(table).is_some() {
                    text.push_str(&format!("\n\ncolumn of rule `{table}`"));
                }
                if let Some(line) =
                    column_lineage(lineage, table, &column_ref(table, column, steps))
                {
                    text.push_str(&format!("\n\nlineage: {line}"));
                }
            } else if let Some(line) = lineage_line(sources) {
                text.push_str(&format!("\n\nlineage: {line}"));
            }
            Some(text)
        }
        Target::Output(column) => {
            let compiled = project.compiled.as_ref()?.rule(rule)?;
            let field = compiled
                .output_schema
                .as_ref()?
                .field_with_name(column)
                .ok()?
                .clone();
            let mut text = format!(
                "```sql\n{rule}.{column}: {}{}\n```\n\noutput column of `{rule}`",
                render_type(field.data_type()),
                if field.is_nullable() { "" } else { " NOT NULL" }
            );
            if let Some(line) = lineage_line(&lineage.input_deps(rule, column)) {
                text.push_str(&format!("\n\nlineage: {line}"));
            }
            Some(text)
        }
        Target::Table(table) => {
            if let Some(contract) = pack.contracts.get(table) {
                let mut text = format!("input `{table}` ({})\n\n```sql\n", contract.file);
                for field in contract.schema.fields() {
                    text.push_str(&schema_line(field));
                }
                text.push_str(&format!(
                    "```\n\nschema fingerprint `{}`",
                    contract.fingerprint
                ));
                return Some(text);
            }
            let compiled = project.compiled.as_ref()?.rule(table)?;
            let mut text = format!("rule `{table}` ({})\n\n", compiled.file);
            match &compiled.output_schema {
                Some(schema) => {
                    text.push_str("```sql\n");
                    for field in schema.fields() {
                        text.push_str(&schema_line(field));
                    }
                    text.push_str("```\n");
                }
                None => text.push_str("does not compile\n"),
            }
            if let Some(fingerprint) = &compiled.fingerprint {
                text.push_str(&format!("\nfingerprint `{fingerprint}`"));
            }
            Some(text)
        }
        Target::Local(name) => Some(format!("`{name}`: a CTE or derived table of this rule")),
        Target::Function(name) => {
            let (syntax, description) = function_doc(name)?;
            Some(format!("```sql\n{syntax}\n```\n\n{description}"))
        }
    }
}

fn schema_line(field: &Field) -> String {
    format!(
        "{} {}{}\n",
        field.name(),
        render_type(field.data_type()),
        if field.is_nullable() { "" } else { " NOT NULL" }
    )
}

/// A contract line's text and the comment about it: at the end of the line, or on the
/// comment lines right above it.
fn contract_line(project: &Project, file: &str, span: Option<Span>) -> (String, Option<String>) {
    let Some(Ok(text)) = project.files.text(file) else {
        return (String::new(), None);
    };
    let Some(line) = span.map(|s| s.start.line as usize) else {
        return (String::new(), None);
    };
    let lines: Vec<&str> = text.lines().collect();
    let line_text = lines.get(line.saturating_sub(1)).copied().unwrap_or("");
    let trailing = line_text
        .find(" #")
        .map(|at| line_text[at + 2..].trim().to_owned());
    let (code, _) = line_text.split_at(line_text.find(" #").unwrap_or(line_text.len()));
    let mut above = Vec::new();
    for previous in lines[..line.saturating_sub(1)].iter().rev() {
        match previous.trim().strip_prefix('#') {
            Some(comment) => above.insert(0, comment.trim().to_owned()),
            None => break,
        }
    }
    let comment = trailing
        .filter(|c| !c.is_empty())
        .or_else(|| (!above.is_empty()).then(|| above.join(" ")));
    (code.to_owned(), comment)
}

/// Where a target is defined: a pack-relative file and a span in it.
pub fn definition(
    project: &Project,
    scope: &Scope,
    rule: &str,
    target: &Target,
) -> Option<(String, Span)> {
    let pack = project.pack.as_ref()?;
    let start = Span::new(1, 1, 1, 1);
    let rule_file = pack.rule(rule).map(|r| r.file.clone());
    match target {
        Target::Table(table) => {
            if let Some(contract) = pack.contracts.get(table) {
                return Some((contract.file.clone(), contract.table_span.unwrap_or(start)));
            }
            Some((pack.rule(table)?.file.clone(), start))
        }
        Target::Local(name) => {
            let cte = scope.outline.ctes.iter().find(|c| c.name == *name)?;
            Some((rule_file?, cte.span?))
        }
        Target::Output(name) => {
            let output = scope.outline.outputs.iter().find(|o| o.name == *name)?;
            Some((rule_file?, output.span?))
        }
        Target::Column {
            table,
            relation,
            column,
            steps,
            ..
        } => {
            let Some(table) = table else {
                // A CTE's or derived table's column: where the value it copies is declared,
                // else the CTE.
                if let Some(source) = copied(target) {
                    return definition(project, scope, rule, &source);
                }
                let cte = scope.outline.ctes.iter().find(|c| c.name == *relation)?;
                return Some((rule_file?, cte.span?));
            };
            if let Some(contract) = pack.contracts.get(table) {
                let declared = contract.columns.iter().find(|c| c.name == *column)?;
                let span = declared.span?;
                let text = project.files.text(&contract.file)?.ok()?;
                return Some((
                    contract.file.clone(),
                    nested_field_span(text, span, steps).unwrap_or(span),
                ));
            }
            let upstream = pack.rule(table)?;
            let parsed = upstream.parsed()?;
            let outline = rulec_syntax::outline(&parsed.statement);
            let span = outline
                .outputs
                .iter()
                .find(|o| o.name == *column)
                .and_then(|o| o.span)
                .or_else(|| rulec_syntax::output_item_span(&parsed.statement, column))
                .unwrap_or(start);
            Some((upstream.file.clone(), span))
        }
        Target::Function(_) => None,
    }
}

/// For a column of a CTE or derived table that copies one column of a pack table (or a
/// field nested in one): that column, as a target.
fn copied(target: &Target) -> Option<Target> {
    let Target::Column {
        table: None,
        sources,
        data_type,
        nullable,
        ..
    } = target
    else {
        return None;
    };
    let source = copied_source(sources)?;
    Some(Target::Column {
        table: Some(source.table.clone()),
        relation: source.table.clone(),
        column: source.column.clone(),
        // List elements (`[*]`) have no name in a contract's type: only fields do.
        steps: source
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Field(name) => Some(name.clone()),
                Step::Each => None,
            })
            .collect(),
        data_type: data_type.clone(),
        nullable: *nullable,
        sources: Deps::new(),
    })
}

/// The one column (or nested field) `sources` copies, if they copy exactly one.
fn copied_source(sources: &Deps) -> Option<&ColumnRef> {
    let mut copies = sources.iter().filter(|(_, k)| **k == EdgeKind::Copy);
    let (source, _) = copies.next()?;
    (copies.next().is_none() && !source.is_rows()).then_some(source)
}

/// The place of a nested field in a contract's type text: each step's `name:` in turn,
/// from the column's declaration on.
fn nested_field_span(text: &str, column: Span, steps: &[String]) -> Option<Span> {
    if steps.is_empty() {
        return None;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let mut line = column.start.line as usize;
    let mut from = (column.start.column as usize).saturating_sub(1);
    let mut found = None;
    for step in steps {
        let needle = format!("{step}:");
        loop {
            let line_text = lines.get(line.checked_sub(1)?)?;
            let chars: Vec<char> = line_text.chars().collect();
            let rest: String = chars.get(from..).unwrap_or(&[]).iter().collect();
            let hit = rest.match_indices(&needle).find(|(at, _)| {
                rest[..*at]
                    .chars()
                    .last()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            });
            if let Some((at, _)) = hit {
                let column = from + rest[..at].chars().count() + 1;
                found = Some(Span::new(
                    line as u32,
                    column as u32,
                    line as u32,
                    (column + step.chars().count()) as u32,
                ));
                from = column - 1 + step.chars().count();
                break;
            }
            // A type may go on over the next lines; stop at the next column.
            line += 1;
            from = 0;
            if lines
                .get(line - 1)
                .is_none_or(|l| l.trim_start().starts_with("- "))
            {
                return None;
            }
        }
    }
    found
}

/// The places that read a target's column (or table): each reading rule, at the name
/// where it reads it, transitively downstream.
pub fn references(
    project: &Project,
    lineage: &PackLineage,
    rule: &str,
    target: &Target,
) -> Vec<(String, Span)> {
    let Some(pack) = project.pack.as_ref() else {
        return Vec::new();
    };
    let (start, word) = match target {
        Target::Column {
            table: None,
            sources,
            column,
            ..
        } => {
            // A CTE's or derived table's column: what reads the column it copies.
            let Some(source) = copied_source(sources) else {
                return Vec::new();
            };
            let word = source
                .steps
                .iter()
                .rev()
                .find_map(|s| match s {
                    Step::Field(name) => Some(name.clone()),
                    Step::Each => None,
                })
                .unwrap_or_else(|| column.clone());
            (source.clone(), word)
        }
        Target::Column {
            table: Some(table),
            column,
            steps,
            ..
        } => (
            column_ref(table, column, steps),
            steps.last().unwrap_or(column).clone(),
        ),
        Target::Output(column) => (ColumnRef::new(rule, column), column.clone()),
        Target::Table(table) => {
            // The rules that read the table, at the reference.
            return pack
                .rules
                .iter()
                .filter_map(|r| {
                    let reference = r.table_refs().iter().find(|t| t.name == *table)?;
                    Some((
                        r.file.clone(),
                        reference.span.unwrap_or(Span::new(1, 1, 1, 1)),
                    ))
                })
                .collect();
        }
        _ => return Vec::new(),
    };
    let mut found = BTreeSet::new();
    for edge in lineage.downstream(std::slice::from_ref(&start)) {
        let Some(reader) = pack.rule(&edge.to.table) else {
            continue;
        };
        // Where the reader names the column it reads, else its output column.
        let name = if edge.from.table == start.table {
            word.clone()
        } else {
            edge.from.column.clone()
        };
        let span = rulec_syntax::first_word_span(&reader.text, pack.dialect, &name)
            .or_else(|| {
                reader
                    .parsed()
                    .and_then(|p| rulec_syntax::output_item_span(&p.statement, &edge.to.column))
            })
            .unwrap_or(Span::new(1, 1, 1, 1));
        found.insert((reader.file.clone(), span));
    }
    found.into_iter().collect()
}

/// A quick fix: replace `span` of the diagnostic's file with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickFix {
    pub title: String,
    pub span: Span,
    pub replacement: String,
}

/// The did-you-mean fix of a diagnostic, if it has one: its help (`did you mean `x`?`) or
/// the planner's note (`possible column t.x`). A qualified name keeps its qualifier.
pub fn quick_fix(diagnostic: &Diagnostic, text: &str) -> Option<QuickFix> {
    let span = diagnostic.span?;
    let suggestion = diagnostic
        .help
        .as_deref()
        .and_then(|h| between(h, "did you mean ", "?"))
        .map(|s| {
            s.trim_start_matches("the struct field ")
                .trim_matches('`')
                .to_owned()
        })
        .or_else(|| {
            diagnostic
                .notes
                .iter()
                .find_map(|n| n.strip_prefix("possible column "))
                .map(|c| c.trim().to_owned())
        })?;
    let written = text_at(text, span)?;
    let (span, replacement) = match written.rfind('.') {
        // `f.nme`: replace the last part only.
        Some(dot) => {
            let last = suggestion
                .rsplit('.')
                .next()
                .unwrap_or(&suggestion)
                .to_owned();
            let column = span.start.column + written[..=dot].chars().count() as u32;
            (
                Span::new(span.start.line, column, span.end.line, span.end.column),
                last,
            )
        }
        None if suggestion.contains('.') && !written.is_empty() => (
            span,
            suggestion
                .rsplit('.')
                .next()
                .unwrap_or(&suggestion)
                .to_owned(),
        ),
        None => (span, suggestion),
    };
    if replacement.is_empty() || text_at(text, span).as_deref() == Some(replacement.as_str()) {
        return None;
    }
    Some(QuickFix {
        title: format!("Replace with `{replacement}`"),
        span,
        replacement,
    })
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].rfind(end)? + from;
    Some(&text[from..to])
}

/// The text a one-line span covers.
fn text_at(text: &str, span: Span) -> Option<String> {
    if span.start.line != span.end.line {
        return None;
    }
    let line = text
        .split('\n')
        .nth((span.start.line as usize).checked_sub(1)?)?;
    Some(
        line.chars()
            .skip((span.start.column as usize).saturating_sub(1))
            .take(span.end.column.saturating_sub(span.start.column) as usize)
            .collect(),
    )
}
