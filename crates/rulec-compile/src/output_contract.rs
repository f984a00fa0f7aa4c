//! Output contracts: a contract whose table is a rule's name pins that rule's product
//! schema. Every difference is reported, each column named.

use arrow_schema::Schema;
use arrow_schema::{Field, SchemaRef};
use rulec_contract::{Contract, is_safe_cast, render_type};
use rulec_diagnostics::{Diagnostic, codes};
use rulec_syntax::sqlparser::ast::Statement;
use rulec_syntax::{output_item_span, top_level_select_span};
use std::sync::Arc;

/// Compares a rule's output schema with its output contract.
pub fn check_output_contract(
    file: &str,
    statement: &Statement,
    output: &Schema,
    contract: &Contract,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let select = top_level_select_span(statement);
    let contract_note = |line: Option<u32>| match line {
        Some(l) => format!("declared in `{}` line {l}", contract.file),
        None => format!("declared in `{}`", contract.file),
    };
    for column in &contract.columns {
        let note = contract_note(column.span.map(|s| s.start.line));
        match output.field_with_name(&column.name) {
            Err(_) => out.push(
                Diagnostic::error(
                    codes::OUTPUT_COLUMN_MISSING,
                    format!(
                        "the product has no column `{}` ({}) that its output contract declares",
                        column.name, column.type_text
                    ),
                )
                .in_file(file)
                .at_opt(select)
                .with_note(note),
            ),
            Ok(field) => {
                let span = output_item_span(statement, &column.name).or(select);
                let expected = render_type(&column.data_type);
                let actual = render_type(field.data_type());
                if expected != actual && !is_safe_cast(field.data_type(), &column.data_type) {
                    out.push(
                        Diagnostic::error(
                            codes::OUTPUT_COLUMN_TYPE,
                            format!("column `{}` is `{actual}` but the output contract declares `{expected}`", column.name),
                        )
                        .in_file(file)
                        .at_opt(span)
                        .with_note(note)
                        .with_help(format!("cast it: CAST({} AS ...) or arrow_cast({}, '...')", column.name, column.name)),
                    );
                } else if !column.nullable && field.is_nullable() {
                    // Decided on the data: `run` checks every row it writes.
                    out.push(
                        Diagnostic::warning(
                            codes::OUTPUT_COLUMN_NULLABILITY,
                            format!("column `{}` may be null but the output contract declares it `nullable: false`; rows with a null are refused when the product is written", column.name),
                        )
                        .in_file(file)
                        .at_opt(span)
                        .with_note(note),
                    );
                }
            }
        }
    }
    for field in output.fields() {
        if !contract.columns.iter().any(|c| &c.name == field.name()) {
            out.push(
                Diagnostic::error(
                    codes::OUTPUT_COLUMN_UNEXPECTED,
                    format!(
                        "column `{}` ({}) is not declared in the output contract `{}`",
                        field.name(),
                        render_type(field.data_type()),
                        contract.file
                    ),
                )
                .in_file(file)
                .at_opt(output_item_span(statement, field.name()).or(select)),
            );
        }
    }
    out
}

/// The product's schema under its output contract: the computed columns, in their order,
/// with the contract's types (safe casts are applied when the product is written) and
/// nullability (checked when it is written).
pub fn contract_schema(output: &Schema, contract: &Contract) -> SchemaRef {
    Arc::new(Schema::new(
        output
            .fields()
            .iter()
            .map(
                |f| match contract.columns.iter().find(|c| &c.name == f.name()) {
                    Some(c) => Field::new(f.name(), c.data_type.clone(), c.nullable),
                    None => f.as_ref().clone(),
                },
            )
            .collect::<Vec<_>>(),
    ))
}
