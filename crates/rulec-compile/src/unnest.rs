//! Where each output column of an `Unnest` node comes from: the one reading of the node's
//! index vectors that the encoding and the lineage share.

use datafusion_expr::logical_plan::Unnest;

/// The source of one output column of an `Unnest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnnestOutput {
    /// The elements of the list in input column `input`, `depth` levels down.
    List { input: usize, depth: usize },
    /// Field number `field` of the struct in input column `input`.
    StructField { input: usize, field: usize },
    /// Input column `input`, passed through.
    Passed { input: usize },
}

/// The source of every output column of `unnest`, in output order.
pub fn unnest_outputs(unnest: &Unnest) -> Vec<UnnestOutput> {
    let mut struct_fields_seen: Vec<usize> = Vec::new();
    unnest
        .dependency_indices
        .iter()
        .enumerate()
        .map(|(output, &input)| {
            let name = unnest.schema.field(output).name();
            if let Some((_, list)) = unnest
                .list_type_columns
                .iter()
                .find(|(i, list)| *i == input && &list.output_column.name == name)
            {
                UnnestOutput::List {
                    input,
                    depth: list.depth,
                }
            } else if unnest.struct_type_columns.contains(&input) {
                let field = struct_fields_seen.iter().filter(|&&i| i == input).count();
                struct_fields_seen.push(input);
                UnnestOutput::StructField { input, field }
            } else {
                UnnestOutput::Passed { input }
            }
        })
        .collect()
}
