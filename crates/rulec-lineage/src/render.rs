//! `rulec lineage` output: text, JSON, Graphviz dot and Mermaid.

use crate::pack::{Edge, PackLineage};
use crate::path::ColumnRef;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Where a column comes from (default).
    Upstream,
    /// What reads a column (impact).
    Downstream,
}

/// What to show: the whole pack, or one table or column in one direction.
#[derive(Debug, Clone)]
pub struct LineageQuery {
    /// `NAME` or `NAME.COLUMN[.field|[*]...]`; `None` for the whole pack.
    pub target: Option<String>,
    pub direction: Direction,
}

/// A resolved query: the start points and the edges to show.
struct Selection {
    start: Vec<ColumnRef>,
    edges: Vec<Edge>,
}

fn select(lineage: &PackLineage, query: &LineageQuery) -> Result<Option<Selection>, String> {
    let Some(target) = &query.target else {
        return Ok(None);
    };
    let (table, column) = ColumnRef::parse(target)?;
    let Some(columns) = lineage.columns_of(&table) else {
        let mut known: Vec<&str> = lineage.inputs.keys().map(String::as_str).collect();
        known.extend(lineage.rules.iter().map(|r| r.name.as_str()));
        return Err(format!(
            "`{table}` is neither a rule nor an input of pack `{}` (known: {})",
            lineage.pack,
            known.join(", ")
        ));
    };
    let start = match column {
        Some(column) => {
            if !columns.iter().any(|c| c.column == column.column) {
                let names: Vec<String> = columns.iter().map(|c| c.path()).collect();
                return Err(format!(
                    "`{table}` has no column `{}` (columns: {})",
                    column.column,
                    names.join(", ")
                ));
            }
            vec![column]
        }
        // A whole table: its columns, and its rows (for readers that only count them).
        None => {
            let mut all = columns;
            if query.direction == Direction::Downstream {
                all.push(ColumnRef::rows(&table));
            }
            all
        }
    };
    let edges = match query.direction {
        Direction::Upstream => lineage.upstream(&start),
        Direction::Downstream => lineage.downstream(&start),
    };
    Ok(Some(Selection { start, edges }))
}

/// Renders the lineage `query` asks for in `format`. Errors name an unknown table or column.
pub fn render(
    lineage: &PackLineage,
    query: &LineageQuery,
    format: Format,
) -> Result<String, String> {
    let selection = select(lineage, query)?;
    let edges = match &selection {
        Some(s) => s.edges.clone(),
        None => lineage.edges(),
    };
    let start: &[ColumnRef] = selection.as_ref().map_or(&[], |s| s.start.as_slice());
    Ok(match format {
        Format::Text => match &selection {
            None => text_pack(lineage),
            Some(s) => text_tree(lineage, s, query.direction),
        },
        Format::Json => {
            let mut value = json!({
                "pack": lineage.pack,
                "direction": match query.direction {
                    Direction::Upstream => "upstream",
                    Direction::Downstream => "downstream",
                },
                "start": selection.as_ref().map(|s| s.start.iter().map(ToString::to_string).collect::<Vec<_>>()),
                "nodes": nodes(lineage, &edges, start)
                    .into_iter()
                    .map(|c| json!({"id": c.to_string(), "table": c.table, "path": c.path(), "kind": table_kind(lineage, &c.table)}))
                    .collect::<Vec<_>>(),
                "edges": edges
                    .iter()
                    .map(|e| json!({"from": e.from.to_string(), "to": e.to.to_string(), "kind": e.kind}))
                    .collect::<Vec<_>>(),
            });
            if selection.is_none() {
                value["rules"] = Value::Array(
                    lineage
                        .rules
                        .iter()
                        .map(|r| rule_json(lineage, &r.name))
                        .collect(),
                );
                value["unused_inputs"] = lineage
                    .unused_inputs()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
            }
            let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
            out.push('\n');
            out
        }
        Format::Dot => dot(lineage, &edges, start),
        Format::Mermaid => mermaid(lineage, &edges, start),
    })
}

/// One rule's lineage as JSON: per column its direct sources and its input columns, and
/// what the rule reads.
pub(crate) fn rule_json(lineage: &PackLineage, rule: &str) -> Value {
    let columns: Vec<Value> = lineage
        .rule(rule)
        .map(|r| {
            r.columns
                .iter()
                .map(|(name, deps)| {
                    json!({
                        "name": name,
                        "sources": deps.iter().map(|(c, k)| json!({"column": c.to_string(), "kind": k})).collect::<Vec<_>>(),
                        "inputs": lineage.input_deps(rule, name).iter().map(|(c, k)| json!({"column": c.to_string(), "kind": k})).collect::<Vec<_>>(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "name": rule,
        "columns": columns,
        "reads": lineage.reads(rule).iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn table_kind(lineage: &PackLineage, table: &str) -> &'static str {
    if lineage.is_input(table) {
        "input"
    } else if lineage.rule(table).is_some() {
        "rule"
    } else {
        "unknown"
    }
}

/// The whole pack as text: per rule, per column, its direct sources and its inputs; then
/// what no rule reads.
fn text_pack(lineage: &PackLineage) -> String {
    let mut out = String::new();
    for rule in &lineage.rules {
        let _ = writeln!(out, "rule {}", rule.name);
        out.push_str(&text_rule(lineage, &rule.name));
        out.push('\n');
    }
    let unused = lineage.unused_inputs();
    if unused.is_empty() {
        out.push_str("every input column is read\n");
    } else {
        out.push_str("inputs no rule reads:\n");
        for c in unused {
            let _ = writeln!(out, "  {c}");
        }
    }
    out
}

/// One rule's lineage as text (the body of a lineage snapshot).
pub fn text_rule(lineage: &PackLineage, rule: &str) -> String {
    let mut out = String::new();
    let Some(r) = lineage.rule(rule) else {
        return out;
    };
    for (name, deps) in &r.columns {
        let _ = writeln!(out, "  {name}");
        for (source, kind) in deps {
            let _ = writeln!(out, "    {:<9} {source}", kind.as_str());
        }
        let inputs = lineage.input_deps(rule, name);
        if inputs != *deps {
            let _ = writeln!(out, "    from inputs:");
            for (source, kind) in &inputs {
                let _ = writeln!(out, "      {:<9} {source}", kind.as_str());
            }
        }
    }
    let reads: Vec<String> = lineage
        .reads(rule)
        .iter()
        .map(ToString::to_string)
        .collect();
    let _ = writeln!(out, "  reads: {}", reads.join(", "));
    out
}

/// A tree from each start point, upstream (sources below) or downstream (readers below).
/// A node already expanded is marked `(see above)`.
fn text_tree(lineage: &PackLineage, selection: &Selection, direction: Direction) -> String {
    let mut children: BTreeMap<ColumnRef, Vec<&Edge>> = BTreeMap::new();
    for edge in &selection.edges {
        match direction {
            Direction::Upstream => children.entry(edge.to.clone()).or_default().push(edge),
            Direction::Downstream => children.entry(edge.from.clone()).or_default().push(edge),
        }
    }
    let mut out = String::new();
    let mut expanded = BTreeSet::new();
    for start in &selection.start {
        let _ = writeln!(out, "{start} ({})", table_kind(lineage, &start.table));
        let before = out.len();
        walk(
            lineage,
            &children,
            start,
            direction,
            1,
            &mut expanded,
            &mut out,
        );
        if out.len() == before {
            out.push_str(match direction {
                Direction::Upstream if lineage.is_input(&start.table) => {
                    "  (an input: nothing upstream; try --downstream)\n"
                }
                Direction::Upstream => "  (computed from no column)\n",
                Direction::Downstream => "  (no rule reads it)\n",
            });
        }
    }
    out
}

fn walk(
    lineage: &PackLineage,
    children: &BTreeMap<ColumnRef, Vec<&Edge>>,
    node: &ColumnRef,
    direction: Direction,
    depth: usize,
    expanded: &mut BTreeSet<ColumnRef>,
    out: &mut String,
) {
    // One line per next column: the edges to (upstream) or from (downstream) it merged,
    // since a column can read several fields of the same source.
    let mut next: BTreeMap<ColumnRef, (crate::EdgeKind, Vec<&ColumnRef>)> = BTreeMap::new();
    let edges: Vec<&Edge> = match direction {
        Direction::Upstream => children.get(&node.top()).cloned().unwrap_or_default(),
        // Downstream, a start point matches edges from the fields inside it too.
        Direction::Downstream => children
            .iter()
            .filter(|(from, _)| from.overlaps(node))
            .flat_map(|(_, e)| e.iter().copied())
            .collect(),
    };
    for edge in edges {
        let (key, via) = match direction {
            Direction::Upstream => (&edge.from, &edge.to),
            Direction::Downstream => (&edge.to, &edge.from),
        };
        next.entry(key.clone())
            .and_modify(|(kind, vias)| {
                *kind = kind.merge(edge.kind);
                vias.push(via);
            })
            .or_insert((edge.kind, vec![via]));
    }
    for (column, (kind, vias)) in next {
        let shown = match direction {
            Direction::Upstream => column.to_string(),
            Direction::Downstream => {
                let mut vias: Vec<String> = vias.iter().map(ToString::to_string).collect();
                vias.sort();
                vias.dedup();
                format!("{column}  (reads {})", vias.join(", "))
            }
        };
        let indent = "  ".repeat(depth);
        let again = !expanded.insert(column.clone());
        let suffix = if lineage.is_input(&column.table) {
            " (input)"
        } else if again && children_exist(children, &column, direction) {
            " (see above)"
        } else {
            ""
        };
        let _ = writeln!(out, "{indent}{:<9} {shown}{suffix}", kind.as_str());
        if !again {
            walk(
                lineage,
                children,
                &column,
                direction,
                depth + 1,
                expanded,
                out,
            );
        }
    }
}

fn children_exist(
    children: &BTreeMap<ColumnRef, Vec<&Edge>>,
    node: &ColumnRef,
    direction: Direction,
) -> bool {
    match direction {
        Direction::Upstream => children.contains_key(&node.top()),
        Direction::Downstream => children.keys().any(|k| k.overlaps(node)),
    }
}

/// Every column on an edge, and the start points, sorted.
fn nodes(_lineage: &PackLineage, edges: &[Edge], start: &[ColumnRef]) -> BTreeSet<ColumnRef> {
    let mut nodes: BTreeSet<ColumnRef> = start.iter().cloned().collect();
    for e in edges {
        nodes.insert(e.from.clone());
        nodes.insert(e.to.clone());
    }
    nodes
}

fn dot(lineage: &PackLineage, edges: &[Edge], start: &[ColumnRef]) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::from(
        "digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for node in nodes(lineage, edges, start) {
        let style = if lineage.is_input(&node.table) {
            ", style=filled, fillcolor=\"#e8f0fe\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\"{style}];",
            escape(&node.to_string()),
            escape(&node.to_string())
        );
    }
    for e in edges {
        let style = if e.kind == crate::EdgeKind::Inspect {
            ", style=dashed"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"{style}];",
            escape(&e.from.to_string()),
            escape(&e.to.to_string()),
            e.kind.as_str()
        );
    }
    out.push_str("}\n");
    out
}

fn mermaid(lineage: &PackLineage, edges: &[Edge], start: &[ColumnRef]) -> String {
    let nodes: Vec<ColumnRef> = nodes(lineage, edges, start).into_iter().collect();
    let id = |c: &ColumnRef| nodes.iter().position(|n| n == c).unwrap_or(0);
    let mut out = String::from("flowchart LR\n");
    for (i, node) in nodes.iter().enumerate() {
        let label = node.to_string().replace('"', "#quot;");
        let shape = if lineage.is_input(&node.table) {
            format!("n{i}[(\"{label}\")]")
        } else {
            format!("n{i}[\"{label}\"]")
        };
        let _ = writeln!(out, "  {shape}");
    }
    for e in edges {
        let arrow = if e.kind == crate::EdgeKind::Inspect {
            "-.->"
        } else {
            "-->"
        };
        let _ = writeln!(
            out,
            "  n{} {arrow}|{}| n{}",
            id(&e.from),
            e.kind.as_str(),
            id(&e.to)
        );
    }
    out
}
