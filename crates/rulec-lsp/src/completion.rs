//! Completions: what may be written at a cursor in a rule (relations, tables, columns,
//! nested fields, functions), from the names in scope ([`crate::analysis::scope`]).

use crate::analysis::*;
use arrow_schema::FieldRef;
use rulec_contract::render_type;
use rulec_driver::Project;
use std::collections::BTreeSet;

/// A completion item: a label, what kind of thing it is, and a detail line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: String,
    pub documentation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Table,
    Column,
    Field,
    Function,
}

/// What may be written at a cursor: after `x.`, the columns of relation `x` or the fields
/// of struct `x`; else the relations, tables, columns in scope and functions.
pub fn completions(
    project: &Project,
    scope: &Scope,
    rule: &str,
    text: &str,
    line: u32,
    column: u32,
) -> Vec<Completion> {
    let Some(pack) = project.pack.as_ref() else {
        return Vec::new();
    };
    let prefix = rulec_syntax::completion_prefix(text, pack.dialect, line, column);
    let partial = prefix.partial.to_lowercase();
    let keep = |label: &str| label.to_lowercase().starts_with(&partial);
    let field_item = |f: &FieldRef, kind: CompletionKind| Completion {
        label: f.name().clone(),
        kind,
        detail: format!(
            "{}{}",
            render_type(f.data_type()),
            if f.is_nullable() { "" } else { " NOT NULL" }
        ),
        documentation: None,
    };
    let mut items = Vec::new();
    if let Some((first, rest)) = prefix.qualifiers.split_first() {
        // `relation.` then `column.field.`, or `column.field.` of an unqualified column.
        let fields: Option<Vec<FieldRef>> = match scope.relation(first) {
            Some(relation) => match rest.split_first() {
                None => Some(relation.fields.clone()),
                Some((column, steps)) => relation
                    .fields
                    .iter()
                    .find(|f| f.name() == column)
                    .and_then(|f| nested(f, steps))
                    .and_then(|(ty, _)| struct_fields(&ty)),
            },
            None => scope
                .column(first)
                .and_then(|(_, f)| nested(f, rest))
                .and_then(|(ty, _)| struct_fields(&ty)),
        };
        let kind = if scope.relation(first).is_some() && rest.is_empty() {
            CompletionKind::Column
        } else {
            CompletionKind::Field
        };
        for field in fields.unwrap_or_default() {
            if keep(field.name()) {
                items.push(field_item(&field, kind));
            }
        }
        return items;
    }
    let mut seen = BTreeSet::new();
    for relation in &scope.relations {
        if keep(&relation.name) && seen.insert(relation.name.clone()) {
            items.push(Completion {
                label: relation.name.clone(),
                kind: CompletionKind::Table,
                detail: relation
                    .table
                    .as_ref()
                    .filter(|t| **t != relation.name)
                    .map_or_else(|| "in scope".to_owned(), |t| format!("alias of {t}")),
                documentation: None,
            });
        }
    }
    for (table, contract) in &pack.contracts {
        if keep(table) && seen.insert(table.clone()) {
            items.push(Completion {
                label: table.clone(),
                kind: CompletionKind::Table,
                detail: format!("input ({})", contract.file),
                documentation: None,
            });
        }
    }
    for other in &pack.rules {
        if other.name != rule && keep(&other.name) && seen.insert(other.name.clone()) {
            items.push(Completion {
                label: other.name.clone(),
                kind: CompletionKind::Table,
                detail: format!("rule ({})", other.file),
                documentation: None,
            });
        }
    }
    for cte in &scope.outline.ctes {
        if keep(&cte.name) && seen.insert(cte.name.clone()) {
            items.push(Completion {
                label: cte.name.clone(),
                kind: CompletionKind::Table,
                detail: "CTE".to_owned(),
                documentation: None,
            });
        }
    }
    let mut columns = BTreeSet::new();
    for relation in &scope.relations {
        for field in &relation.fields {
            if keep(field.name()) && columns.insert(field.name().clone()) {
                let mut item = field_item(field, CompletionKind::Column);
                item.detail = format!("{} ({})", item.detail, relation.name);
                items.push(item);
            }
        }
    }
    for &name in function_names() {
        if keep(name) && !partial.is_empty() {
            let (syntax, description) = function_doc(name).unwrap_or_default();
            items.push(Completion {
                label: name.to_owned(),
                kind: CompletionKind::Function,
                detail: syntax,
                documentation: (!description.is_empty()).then_some(description),
            });
        }
    }
    items
}
