//! Product settings against the compiled rule: what pack.yaml `products:` declares (typed by
//! `rulec_pack::ProductSettings`) checked against the product's schema and plan, so that
//! `rulec check` refuses what `rulec run` would.

use crate::CompiledRule;
use arrow_schema::{DataType, SchemaRef};
use datafusion_expr::LogicalPlan;
use rulec_diagnostics::{Diagnostic, codes};
use rulec_pack::{Incremental, Materialize, Pack, ProductSettings, SortKey};
use std::collections::BTreeSet;

/// Whether rows can be ordered by a column of this type (and it is one Parquet leaf).
pub fn sortable(ty: &DataType) -> bool {
    !ty.is_nested() && !matches!(ty, DataType::Null | DataType::Dictionary(..))
}

pub use rulec_contract::partitionable;

/// Checks declared keys against the product's schema: top-level columns of a sortable type.
pub fn check_sort_keys(schema: &SchemaRef, keys: &[SortKey]) -> Result<(), String> {
    for key in keys {
        match schema.field_with_name(&key.column) {
            Ok(f) if sortable(f.data_type()) => {}
            Ok(f) => {
                return Err(format!(
                    "`{}` has type {}, which cannot order rows",
                    key.column,
                    rulec_contract::render_type(f.data_type())
                ));
            }
            Err(_) => return Err(format!("`{}` is not a column of the product", key.column)),
        }
    }
    Ok(())
}

/// What a product's settings mean for its compiled plan.
#[derive(Debug, Clone)]
pub struct ProductLayout {
    pub settings: ProductSettings,
    /// For `incremental: append`: the inputs the query can be appended from.
    pub append_sources: BTreeSet<String>,
}

#[allow(
    clippy::result_large_err,
    reason = "an invalid setting is a diagnostic, returned once per product: a cold path"
)]
/// Product `name`'s settings checked against its output schema and plan: sort keys,
/// partition columns and the slice key are columns of a fitting type; a sliced query keeps
/// keys apart; an appended query is row-local in one of `inputs`.
pub fn product_layout(
    pack: &Pack,
    name: &str,
    plan: &LogicalPlan,
    schema: &SchemaRef,
) -> Result<ProductLayout, Diagnostic> {
    let settings = pack.product_settings(name)?;
    let at = |key: &str, d: Diagnostic| {
        let span = pack
            .manifest
            .product_setting_span(name, key)
            .or_else(|| pack.manifest.product_span(name));
        d.in_file("pack.yaml").at_opt(span)
    };
    let invalid = |message: String| Diagnostic::error(codes::INVALID_RUN_SETTING, message);
    if settings.materialize == Materialize::Ephemeral {
        return Ok(ProductLayout {
            settings,
            append_sources: BTreeSet::new(),
        });
    }
    check_sort_keys(schema, &settings.order_by).map_err(|why| {
        at(
            "order_by",
            invalid(format!("product `{name}`: cannot order by it: {why}")),
        )
    })?;
    if let Some(slices) = &settings.slices {
        let key = match schema.field_with_name(&slices.by) {
            Ok(field) if field.data_type().is_integer() => schema.index_of(&slices.by).ok(),
            Ok(field) => {
                return Err(at(
                    "slice_by",
                    invalid(format!(
                        "product `{name}`: `slice_by: {}` has type {}; slices are taken by an integer column",
                        slices.by,
                        rulec_contract::render_type(field.data_type())
                    )),
                ));
            }
            Err(_) => None,
        };
        let Some(key) = key else {
            return Err(at(
                "slice_by",
                invalid(format!(
                    "product `{name}`: `slice_by: {}` is not a column of the product",
                    slices.by
                )),
            ));
        };
        // Two slices are enough to find what mixes keys.
        crate::slices::slice(plan, key, 0, 2).map_err(|why| {
            at(
                "slice_by",
                invalid(format!(
                    "product `{name}` cannot be built in slices of `{}`: {why}",
                    slices.by
                ))
                .with_help("slices need every output row to depend on input rows of its own key only; remove `slice_by` to build the product whole"),
            )
        })?;
    }
    for column in &settings.partition_by {
        if column.starts_with(['_', '.']) {
            return Err(at(
                "partition_by",
                invalid(format!(
                    "product `{name}`: `partition_by: {column}` starts with `{}`, so readers would skip its directories as hidden",
                    &column[..1]
                ))
                .with_help("rename the column in the rule (`… AS shard`)"),
            ));
        }
        match schema.field_with_name(column) {
            Ok(field) if partitionable(field.data_type()) => {}
            Ok(field) => {
                return Err(at(
                    "partition_by",
                    invalid(format!(
                        "product `{name}`: `partition_by: {column}` has type {}; partition directories are named by integers, strings, booleans or dates",
                        rulec_contract::render_type(field.data_type())
                    )),
                ));
            }
            Err(_) => {
                let hint = rulec_diagnostics::did_you_mean(
                    column,
                    schema.fields().iter().map(|f| f.name().as_str()),
                )
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
                return Err(at(
                    "partition_by",
                    invalid(format!(
                        "product `{name}`: `partition_by: {column}` is not a column of the product{hint}"
                    )),
                ));
            }
        }
    }
    if !settings.partition_by.is_empty() && settings.partition_by.len() == schema.fields().len() {
        return Err(at(
            "partition_by",
            invalid(format!(
                "product `{name}`: every column is a partition column, so its data files would have none"
            )),
        ));
    }
    let mut append_sources = BTreeSet::new();
    if settings.incremental == Incremental::Append {
        let inputs: BTreeSet<&str> = pack
            .rule(name)
            .map(|r| r.upstream_inputs.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let refuse = |why: String| {
            at(
                "incremental",
                invalid(format!(
                    "product `{name}` cannot be appended to: {why}"
                ))
                .with_help("`incremental: append` needs each output row to come from one row of an input (joined with tables that do not grow); remove it to rebuild the product whole"),
            )
        };
        let sources = crate::append::append_sources(plan).map_err(refuse)?;
        append_sources = sources
            .into_iter()
            .filter(|t| inputs.contains(t.as_str()))
            .collect();
        if append_sources.is_empty() {
            return Err(refuse(
                "its rows come one by one only from other products, not from an input of the pack"
                    .to_owned(),
            ));
        }
    }
    Ok(ProductLayout {
        settings,
        append_sources,
    })
}

/// What `rulec run` would refuse in a product's settings, found from the compiled rule
/// without running anything. `rulec check` reports it.
pub fn check_product_settings(pack: &Pack, rule: &CompiledRule) -> Option<Diagnostic> {
    let (Some(plan), Some(schema)) = (&rule.plan, &rule.output_schema) else {
        return pack.product_settings(&rule.name).err();
    };
    product_layout(pack, &rule.name, plan, schema).err()
}
