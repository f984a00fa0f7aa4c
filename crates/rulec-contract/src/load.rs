//! Loading a contract from YAML text.

use crate::schema_fingerprint;
use crate::types::parse_type;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rulec_diagnostics::{Diagnostic, Span, codes, yaml_key_span};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A loaded, valid contract.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The table name, as declared.
    pub table: String,
    /// The file the contract came from (relative to the pack root).
    pub file: String,
    pub columns: Vec<ContractColumn>,
    pub metadata: BTreeMap<String, String>,
    pub order_by: Vec<String>,
    /// Columns whose values, together, must be unique in every row (an output contract's
    /// key, checked when the product is written). Empty: no key.
    pub key: Vec<String>,
    /// The one Arrow schema this contract maps to.
    pub schema: SchemaRef,
    /// `sha256:<hex>` schema fingerprint.
    pub fingerprint: String,
    /// Where `table:` is written in the YAML file.
    pub table_span: Option<Span>,
}

/// One declared column.
#[derive(Debug, Clone)]
pub struct ContractColumn {
    pub name: String,
    /// The type as written.
    pub type_text: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// A Hive partition column (`partition: true`): read from `col=value/` directory names.
    pub partition: bool,
    /// Where the column is declared in the YAML file.
    pub span: Option<Span>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    table: Option<String>,
    columns: Option<Vec<RawColumn>>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    order_by: Vec<String>,
    #[serde(default)]
    key: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    type_text: String,
    #[serde(default = "default_nullable")]
    nullable: bool,
    /// A Hive partition column: its values are in the directory names (`col=value/`), not
    /// in the files.
    #[serde(default)]
    partition: bool,
}

fn default_nullable() -> bool {
    true
}

/// Parses a contract. `file` is used for diagnostics only.
pub fn parse_contract(file: &str, text: &str) -> Result<Contract, Vec<Diagnostic>> {
    let raw: RawContract = serde_yaml::from_str(text).map_err(|err| {
        let location = err.location().map(|l| (l.line(), l.column()));
        let (message, span) = rulec_diagnostics::yaml_error(&err.to_string(), location);
        let mut d = Diagnostic::error(
            codes::MALFORMED_CONTRACT,
            format!("invalid contract: {message}"),
        )
        .in_file(file)
        .at_opt(span);
        if message.contains("unknown field") && (message.contains(')') || message.contains('>')) {
            d = d.with_help(
                "a type containing `,` or `:` was split by YAML; quote it: type: \"decimal(15,2)\"",
            );
        }
        vec![d]
    })?;

    let mut diagnostics = Vec::new();
    let table = match raw.table.map(|t| t.trim().to_owned()) {
        Some(t) if !t.is_empty() => t,
        _ => {
            diagnostics.push(
                Diagnostic::error(
                    codes::MALFORMED_CONTRACT,
                    "the contract has no `table` name",
                )
                .in_file(file)
                .at_opt(yaml_key_span(text, "table", 0))
                .with_help("add `table: <name>`"),
            );
            String::new()
        }
    };
    let raw_columns = raw.columns.unwrap_or_default();
    if raw_columns.is_empty() {
        diagnostics.push(
            Diagnostic::error(
                codes::MALFORMED_CONTRACT,
                "the contract declares no columns",
            )
            .in_file(file)
            .at_opt(yaml_key_span(text, "columns", 0))
            .with_help("add `columns:` with at least one `{name, type}` entry"),
        );
    }

    let mut columns: Vec<ContractColumn> = Vec::new();
    let mut occurrences: BTreeMap<String, usize> = BTreeMap::new();
    for raw_col in raw_columns {
        let nth = occurrences.entry(raw_col.name.clone()).or_insert(0);
        let span = locate_value(text, "name", &raw_col.name, *nth);
        *nth += 1;
        if raw_col.name.trim().is_empty() {
            diagnostics.push(
                Diagnostic::error(codes::MALFORMED_CONTRACT, "a column has an empty name")
                    .in_file(file)
                    .at_opt(span),
            );
            continue;
        }
        if let Some(first) = columns.iter().find(|c| c.name == raw_col.name) {
            let mut d = Diagnostic::error(
                codes::DUPLICATE_COLUMN,
                format!("column `{}` is declared twice", raw_col.name),
            )
            .in_file(file)
            .at_opt(span);
            if let Some(first_span) = first.span {
                d = d.with_label(first_span, "first declared here");
            }
            diagnostics.push(d);
            continue;
        }
        let type_span = locate_value(text, "type", &raw_col.type_text, 0).or(span);
        match parse_type(&raw_col.type_text) {
            Ok(data_type) if raw_col.partition && !partitionable(&data_type) => {
                diagnostics.push(
                    Diagnostic::error(
                        codes::MALFORMED_CONTRACT,
                        format!(
                            "column `{}` is a partition column of type `{}`; partition directories are named by integers, strings, booleans or dates",
                            raw_col.name, raw_col.type_text
                        ),
                    )
                    .in_file(file)
                    .at_opt(type_span),
                );
            }
            Ok(data_type) => columns.push(ContractColumn {
                name: raw_col.name,
                type_text: raw_col.type_text,
                data_type,
                nullable: raw_col.nullable,
                partition: raw_col.partition,
                span,
            }),
            Err(reason) => {
                let unbalanced = raw_col.type_text.matches(['(', '<']).count()
                    != raw_col.type_text.matches([')', '>']).count();
                let mut d = Diagnostic::error(
                    codes::UNKNOWN_TYPE,
                    format!(
                        "column `{}` has type `{}`: {reason}",
                        raw_col.name, raw_col.type_text
                    ),
                )
                .in_file(file)
                .at_opt(type_span);
                if unbalanced {
                    d = d.with_help(
                        "the type looks cut off: in a YAML flow map, quote types containing `,` or `:` (type: \"decimal(15,2)\")",
                    );
                }
                diagnostics.push(d);
            }
        }
    }
    for (field, keys) in [("order_by", &raw.order_by), ("key", &raw.key)] {
        for key in keys {
            if !columns.iter().any(|c| &c.name == key)
                && !diagnostics.iter().any(|d| d.message.contains(key.as_str()))
            {
                diagnostics.push(
                    Diagnostic::error(
                        codes::MALFORMED_CONTRACT,
                        format!("`{field}` names `{key}`, which is not a column of the contract"),
                    )
                    .in_file(file)
                    .at_opt(yaml_key_span(text, field, 0)),
                );
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, c.data_type.clone(), c.nullable))
            .collect::<Vec<_>>(),
    ));
    let fingerprint = schema_fingerprint(&schema, &raw.metadata);
    Ok(Contract {
        table,
        file: file.to_owned(),
        columns,
        metadata: raw.metadata,
        order_by: raw.order_by,
        key: raw.key,
        schema,
        fingerprint,
        table_span: yaml_key_span(text, "table", 0),
    })
}

/// Whether a column of this type can name a Hive partition directory, and be read back from
/// it as the same value.
pub fn partitionable(ty: &DataType) -> bool {
    ty.is_integer()
        || matches!(
            ty,
            DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Boolean
                | DataType::Date32
        )
}

fn to_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The span of the `nth` `key: value` pair (block or flow style) whose value is `value`.
fn locate_value(text: &str, key: &str, value: &str, nth: usize) -> Option<Span> {
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let mut search_from = 0;
        while let Some(pos) = line[search_from..].find(key) {
            let at = search_from + pos;
            search_from = at + key.len();
            let before_ok = at == 0
                || line[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| matches!(c, ' ' | '{' | ',' | '-' | '\t'));
            let rest = line[at + key.len()..].trim_start();
            let Some(rest) = rest.strip_prefix(':') else {
                continue;
            };
            let rest = rest.trim_start();
            let rest_unquoted = rest.trim_start_matches(['"', '\'']);
            if before_ok && rest_unquoted.starts_with(value) {
                if seen == nth {
                    let value_at = line.len() - rest.len();
                    let col = line[..value_at].chars().count() + 1;
                    let quotes = rest.len() - rest_unquoted.len();
                    let width = value.chars().count() + 2 * quotes;
                    return Some(Span::new(
                        to_u32(i + 1),
                        to_u32(col),
                        to_u32(i + 1),
                        to_u32(col + width.max(1)),
                    ));
                }
                seen += 1;
            }
        }
    }
    None
}
