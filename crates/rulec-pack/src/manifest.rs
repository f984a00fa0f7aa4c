//! `pack.yaml`.

use rulec_diagnostics::{Diagnostic, Span, codes};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const MANIFEST_FILE: &str = "pack.yaml";

/// The contents of `pack.yaml`.
#[derive(Debug, Clone)]
pub struct PackManifest {
    pub name: String,
    /// The SQL dialect rules are written in (default `datafusion`).
    pub dialect: String,
    /// Input table → data path (a Parquet file or a directory of them), relative to the
    /// pack root unless absolute.
    pub inputs: BTreeMap<String, String>,
    /// Default output directory for `run`, relative to the pack root (default `out`).
    pub output: String,
    /// Lint levels: code or name → `allow`, `warn` or `deny` (as written; see `lint_levels`).
    pub lints: BTreeMap<String, String>,
    /// Free-form options, kept for later stages.
    pub options: BTreeMap<String, serde_yaml::Value>,
    /// `run:` — the runtime profile and setting overrides for `rulec run`.
    pub run: RunSection,
    /// `products:` — per product settings (e.g. `order_by`).
    pub products: BTreeMap<String, ProductSection>,
    text: String,
}

/// `run:` in pack.yaml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// A named runtime profile (`fast`, `safe`, `memory-limited`).
    #[serde(default)]
    pub profile: Option<String>,
    /// DataFusion settings over the profile's, `datafusion.execution.batch_size: 4096`.
    #[serde(default)]
    pub settings: BTreeMap<String, serde_yaml::Value>,
    /// Where products are computed: `local` (default) or `ballista`.
    #[serde(default)]
    pub engine: Option<String>,
    /// The Ballista scheduler, `df://HOST:PORT` or `standalone` (with `engine: ballista`).
    #[serde(default)]
    pub scheduler: Option<String>,
}

/// One product's entry under `products:` in pack.yaml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSection {
    /// Columns the product is written sorted by: `name` or `name desc`.
    #[serde(default)]
    pub order_by: Vec<String>,
    /// What to do with rows that break the output contract (a null in a `nullable: false`
    /// column, a duplicate key): `fail` (default) or `tolerant` (write them to the
    /// product's error file instead).
    #[serde(default)]
    pub on_violation: Option<String>,
    /// Build the product in slices of this integer column's values, one pass per slice,
    /// so that its query holds about one slice's share of its input at a time.
    #[serde(default)]
    pub slice_by: Option<String>,
    /// How many slices with `slice_by` (default 8).
    #[serde(default)]
    pub slices: Option<usize>,
    /// `table` (the default: the product is written) or `ephemeral` (a view: never
    /// written, its plan inlined into the plans of the products that read it).
    #[serde(default)]
    pub materialize: Option<String>,
    /// Hive-style partition columns: the product is written as `col=value/part-….parquet`.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// A new data file after this many rows (per partition).
    #[serde(default)]
    pub max_rows_per_file: Option<u64>,
    /// A row group is closed once the writer holds this much of it (`64MiB`, bytes).
    #[serde(default)]
    pub row_group_bytes: Option<serde_yaml::Value>,
    /// `zstd` (the default, level 1), `zstd(N)`, `snappy` or `none`.
    #[serde(default)]
    pub compression: Option<String>,
    /// `full` (the default) or `append`: only the driving input's new files are processed.
    #[serde(default)]
    pub incremental: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Option<String>,
    #[serde(default)]
    dialect: Option<String>,
    #[serde(default)]
    inputs: BTreeMap<String, String>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    lints: BTreeMap<String, String>,
    #[serde(default)]
    options: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    run: RunSection,
    #[serde(default)]
    products: BTreeMap<String, ProductSection>,
}

impl PackManifest {
    pub fn parse(text: &str) -> Result<Self, Vec<Diagnostic>> {
        let raw: RawManifest = serde_yaml::from_str(text).map_err(|err| {
            let location = err.location().map(|l| (l.line(), l.column()));
            let (message, span) = rulec_diagnostics::yaml_error(&err.to_string(), location);
            vec![
                Diagnostic::error(
                    codes::MALFORMED_PACK,
                    format!("invalid pack.yaml: {message}"),
                )
                .in_file(MANIFEST_FILE)
                .at_opt(span),
            ]
        })?;
        let name = match raw.name {
            Some(n) if !n.trim().is_empty() => n,
            _ => {
                return Err(vec![
                    Diagnostic::error(codes::MALFORMED_PACK, "pack.yaml has no `name`")
                        .in_file(MANIFEST_FILE)
                        .with_help("add `name: <pack name>`"),
                ]);
            }
        };
        Ok(PackManifest {
            name,
            dialect: raw.dialect.unwrap_or_else(|| "datafusion".to_owned()),
            inputs: raw.inputs,
            output: raw.output.unwrap_or_else(|| "out".to_owned()),
            lints: raw.lints,
            options: raw.options,
            run: raw.run,
            products: raw.products,
            text: text.to_owned(),
        })
    }

    /// Where the value of top-level `key:` is written in pack.yaml.
    pub fn value_span(&self, key: &str) -> Option<Span> {
        let key_span = self.key_span(key)?;
        let line = self.text.lines().nth(key_span.start.line as usize - 1)?;
        let value = line.split_once(':')?.1.trim_start();
        let column = u32::try_from(line.chars().count() - value.chars().count() + 1).ok()?;
        let width = u32::try_from(value.trim_end().chars().count().max(1)).ok()?;
        Some(Span::new(
            key_span.start.line,
            column,
            key_span.start.line,
            column + width,
        ))
    }

    /// Where `key:` (an input, a lint, a top-level key) first appears in pack.yaml.
    pub fn key_span(&self, key: &str) -> Option<Span> {
        rulec_diagnostics::yaml_key_span(&self.text, key, 0)
    }

    /// Where product `name:` appears under `products:` in pack.yaml.
    /// pack.yaml's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn product_span(&self, name: &str) -> Option<Span> {
        let section = self.key_span("products")?;
        (0..)
            .map_while(|nth| rulec_diagnostics::yaml_key_span(&self.text, name, nth))
            .find(|span| span.start.line > section.start.line)
    }
}
