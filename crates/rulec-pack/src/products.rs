//! Product settings: a pack.yaml `products:` entry, parsed and validated into typed values.
//!
//! What can be decided from pack.yaml and the output contract alone is decided here (unknown
//! values, ranges, settings that exclude each other); what needs the product's schema or
//! plan (a sort key's type, a partition column, whether a query can be sliced or appended)
//! is checked by the compiler (`rulec_compile::check_product_settings`).

#![allow(
    clippy::result_large_err,
    reason = "errors are diagnostics, returned once per invalid product entry: a cold path"
)]

use crate::Pack;
use crate::manifest::ProductSection;
use rulec_diagnostics::{Diagnostic, Span, codes};
use serde::{Deserialize, Serialize};

/// The default number of slices of a product built in slices.
pub const DEFAULT_SLICES: usize = 8;

/// The most slices a product may declare.
pub const MAX_SLICES: usize = 4096;

/// The smallest `row_group_bytes` accepted.
pub const MIN_ROW_GROUP_BYTES: u64 = 64 << 10;

/// A product's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductSettings {
    pub materialize: Materialize,
    /// The declared order: pack.yaml `order_by`, else the output contract's `order_by`.
    pub order_by: Vec<SortKey>,
    /// What to do with rows the output contract refuses; `None`: as the run says.
    pub on_violation: Option<ViolationPolicy>,
    pub slices: Option<SliceSetting>,
    /// Hive-style partition columns: `col=value/` directories, the columns not in the files.
    pub partition_by: Vec<String>,
    /// A new data file after this many rows (per partition).
    pub max_rows_per_file: Option<u64>,
    /// A row group is closed once the writer holds this many bytes of it.
    pub row_group_bytes: Option<u64>,
    pub compression: Compression,
    pub incremental: Incremental,
}

/// Whether a product is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Materialize {
    /// Written as Parquet (the default).
    #[default]
    Table,
    /// A view: never written, its plan inlined into the plans of the products that read it.
    Ephemeral,
}

/// What to do with rows that break the output contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationPolicy {
    /// The product fails; nothing is published.
    Fail,
    /// Refused rows go to the product's error file.
    Tolerant,
}

/// How a product is brought up to date when its driving input grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Incremental {
    /// Rebuilt whole when anything it depends on changed (the default).
    #[default]
    Full,
    /// Only the driving input's new files are processed, into new part files.
    Append,
}

/// Parquet page compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd(i32),
    Snappy,
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd(DEFAULT_ZSTD_LEVEL)
    }
}

/// The zstd level products are written with unless they say otherwise.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

impl Compression {
    /// `zstd`, `zstd(N)` (N from 1 to 22), `snappy` or `none`.
    pub fn parse(text: &str) -> Option<Compression> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "zstd" => return Some(Compression::Zstd(DEFAULT_ZSTD_LEVEL)),
            "snappy" => return Some(Compression::Snappy),
            "none" | "uncompressed" => return Some(Compression::None),
            _ => {}
        }
        let level = text.strip_prefix("zstd(")?.strip_suffix(')')?.trim();
        let level: i32 = level.parse().ok()?;
        (1..=22)
            .contains(&level)
            .then_some(Compression::Zstd(level))
    }

    pub fn render(self) -> String {
        match self {
            Compression::Zstd(level) => format!("zstd({level})"),
            Compression::Snappy => "snappy".to_owned(),
            Compression::None => "none".to_owned(),
        }
    }
}

/// A declared sort key of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
}

impl SortKey {
    /// `column` or `column desc` / `column asc`.
    pub fn parse(text: &str) -> Option<SortKey> {
        let mut words = text.split_whitespace();
        let column = words.next()?.to_owned();
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return None,
        };
        words
            .next()
            .is_none()
            .then_some(SortKey { column, descending })
    }

    pub fn render(&self) -> String {
        if self.descending {
            format!("{} desc", self.column)
        } else {
            self.column.clone()
        }
    }
}

/// A product built in slices: one pass per slice of the key's values, written in turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceSetting {
    pub by: String,
    pub count: usize,
}

/// A size: bytes as an integer, or a number with a unit (`64MiB`, `1.5G`, `512k`).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit() && *c != '.')
    {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let value: f64 = digits.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = value * factor;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "finite, at least 1, and a size far below u64::MAX"
    )]
    (1.0..1e18).contains(&bytes).then_some(bytes as u64)
}

impl ProductSettings {
    /// What of the settings decides the product's files, as text for its build id (the
    /// defaults say nothing, so that products that set nothing keep their ids).
    pub fn layout_identity(&self) -> String {
        let mut out = Vec::new();
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self.order_by.iter().map(SortKey::render).collect();
            out.push(format!("order={}", keys.join(",")));
        }
        if let Some(s) = &self.slices {
            out.push(format!("slices={}/{}", s.by, s.count));
        }
        if !self.partition_by.is_empty() {
            out.push(format!("partition_by={}", self.partition_by.join(",")));
        }
        if let Some(n) = self.max_rows_per_file {
            out.push(format!("max_rows_per_file={n}"));
        }
        if let Some(n) = self.row_group_bytes {
            out.push(format!("row_group_bytes={n}"));
        }
        if self.compression != Compression::default() {
            out.push(format!("compression={}", self.compression.render()));
        }
        if self.incremental == Incremental::Append {
            out.push("incremental=append".to_owned());
        }
        out.join(" ")
    }

    /// Whether refused rows go to the error file, given the run's `--tolerant`.
    pub fn tolerant(&self, run_tolerant: bool) -> bool {
        match self.on_violation {
            None => run_tolerant,
            Some(ViolationPolicy::Fail) => false,
            Some(ViolationPolicy::Tolerant) => true,
        }
    }
}

impl Pack {
    /// Product `name`'s settings, or why they are invalid (an `R007` at its pack.yaml line).
    pub fn product_settings(&self, name: &str) -> Result<ProductSettings, Diagnostic> {
        let contract = self.output_contracts.get(name);
        let contract_key = contract.is_some_and(|c| !c.key.is_empty());
        let contract_order = match contract {
            Some(c) => parse_order(name, &c.order_by)
                .map_err(|d| d.in_file(c.file.clone()).at_opt(c.table_span))?,
            None => Vec::new(),
        };
        match self.manifest.products.get(name) {
            None => Ok(ProductSettings {
                order_by: contract_order,
                ..ProductSettings::default()
            }),
            Some(section) => parse_section(
                name,
                section,
                contract_order,
                contract.is_some(),
                contract_key,
            )
            .map_err(|(key, d)| {
                let span = key
                    .and_then(|k| self.manifest.product_setting_span(name, k))
                    .or_else(|| self.manifest.product_span(name));
                d.in_file(crate::manifest::MANIFEST_FILE).at_opt(span)
            }),
        }
    }
}

fn invalid(message: String) -> Diagnostic {
    Diagnostic::error(codes::INVALID_RUN_SETTING, message)
}

fn parse_order(name: &str, texts: &[String]) -> Result<Vec<SortKey>, Diagnostic> {
    texts
        .iter()
        .map(|t| {
            SortKey::parse(t).ok_or_else(|| {
                invalid(format!(
                    "product `{name}`: `{t}` is not `column` or `column desc`"
                ))
            })
        })
        .collect()
}

/// An error and the setting it is about (for its span).
type SettingError = (Option<&'static str>, Diagnostic);

fn parse_section(
    name: &str,
    section: &ProductSection,
    contract_order: Vec<SortKey>,
    has_contract: bool,
    contract_key: bool,
) -> Result<ProductSettings, SettingError> {
    let at = |key: &'static str| move |d: Diagnostic| (Some(key), d);
    let order_by = if section.order_by.is_empty() {
        contract_order
    } else {
        parse_order(name, &section.order_by).map_err(at("order_by"))?
    };
    let materialize = match section.materialize.as_deref() {
        None | Some("table") => Materialize::Table,
        Some("ephemeral") => Materialize::Ephemeral,
        Some(other) => {
            return Err((
                Some("materialize"),
                invalid(format!(
                    "product `{name}`: `materialize: {other}` is not `table` or `ephemeral`"
                ))
                .with_help("`table` writes the product; `ephemeral` makes it a view inlined into the products that read it"),
            ));
        }
    };
    let on_violation = match section.on_violation.as_deref() {
        None => None,
        Some("fail") => Some(ViolationPolicy::Fail),
        Some("tolerant") => Some(ViolationPolicy::Tolerant),
        Some(other) => {
            return Err((
                Some("on_violation"),
                invalid(format!(
                    "product `{name}`: `on_violation: {other}` is not `fail` or `tolerant`"
                )),
            ));
        }
    };
    let slices = match (&section.slice_by, section.slices) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err((
                Some("slices"),
                invalid(format!(
                    "product `{name}`: `slices` needs `slice_by: <column>`"
                )),
            ));
        }
        (Some(by), count) => {
            let count = count.unwrap_or(DEFAULT_SLICES);
            if !(2..=MAX_SLICES).contains(&count) {
                return Err((
                    Some("slices"),
                    invalid(format!(
                        "product `{name}`: `slices: {count}` is not between 2 and {MAX_SLICES}"
                    )),
                ));
            }
            Some(SliceSetting {
                by: by.clone(),
                count,
            })
        }
    };
    let mut partition_by = Vec::new();
    for column in &section.partition_by {
        if partition_by.contains(column) {
            return Err((
                Some("partition_by"),
                invalid(format!(
                    "product `{name}`: `partition_by` names `{column}` twice"
                )),
            ));
        }
        partition_by.push(column.clone());
    }
    let max_rows_per_file = match section.max_rows_per_file {
        Some(0) => {
            return Err((
                Some("max_rows_per_file"),
                invalid(format!(
                    "product `{name}`: `max_rows_per_file` must be at least 1"
                )),
            ));
        }
        n => n,
    };
    let row_group_bytes = match &section.row_group_bytes {
        None => None,
        Some(value) => {
            let text = match value {
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::String(s) => s.clone(),
                _ => String::new(),
            };
            match parse_size(&text) {
                Some(bytes) if bytes >= MIN_ROW_GROUP_BYTES => Some(bytes),
                Some(_) => {
                    return Err((
                        Some("row_group_bytes"),
                        invalid(format!(
                            "product `{name}`: `row_group_bytes: {text}` is below the smallest row group, 64KiB"
                        )),
                    ));
                }
                None => {
                    return Err((
                        Some("row_group_bytes"),
                        invalid(format!(
                            "product `{name}`: `row_group_bytes` is not a size (`67108864`, `64MiB`)"
                        )),
                    ));
                }
            }
        }
    };
    let compression = match &section.compression {
        None => Compression::default(),
        Some(text) => Compression::parse(text).ok_or_else(|| {
            (
                Some("compression"),
                invalid(format!(
                    "product `{name}`: `compression: {text}` is not `zstd`, `zstd(1..22)`, `snappy` or `none`"
                )),
            )
        })?,
    };
    let incremental = match section.incremental.as_deref() {
        None | Some("full") => Incremental::Full,
        Some("append") => Incremental::Append,
        Some(other) => {
            return Err((
                Some("incremental"),
                invalid(format!(
                    "product `{name}`: `incremental: {other}` is not `full` or `append`"
                )),
            ));
        }
    };
    let settings = ProductSettings {
        materialize,
        order_by,
        on_violation,
        slices,
        partition_by,
        max_rows_per_file,
        row_group_bytes,
        compression,
        incremental,
    };
    exclusions(name, section, &settings, has_contract, contract_key)?;
    Ok(settings)
}

/// Settings that cannot go together.
fn exclusions(
    name: &str,
    section: &ProductSection,
    settings: &ProductSettings,
    has_contract: bool,
    contract_key: bool,
) -> Result<(), SettingError> {
    if settings.materialize == Materialize::Ephemeral {
        let declared = [
            (!section.order_by.is_empty(), "order_by"),
            (section.slice_by.is_some(), "slice_by"),
            (section.on_violation.is_some(), "on_violation"),
            (!section.partition_by.is_empty(), "partition_by"),
            (section.max_rows_per_file.is_some(), "max_rows_per_file"),
            (section.row_group_bytes.is_some(), "row_group_bytes"),
            (section.compression.is_some(), "compression"),
            (section.incremental.is_some(), "incremental"),
        ];
        let help = "an ephemeral product is a view inlined into its readers: remove the setting, or write the product (`materialize: table`)";
        if let Some((_, key)) = declared.iter().find(|(set, _)| *set) {
            return Err((
                Some(key),
                invalid(format!(
                    "product `{name}` is ephemeral (never written) but declares `{key}`"
                ))
                .with_help(help),
            ));
        }
        if has_contract {
            return Err((
                Some("materialize"),
                invalid(format!(
                    "product `{name}` is ephemeral (never written) but declares an output contract"
                ))
                .with_help(help),
            ));
        }
    }
    if settings.slices.is_some() && !settings.order_by.is_empty() {
        return Err((
            Some("slice_by"),
            invalid(format!(
                "product `{name}`: a product built in slices cannot also declare an order"
            ))
            .with_help(
                "remove `slice_by` or `order_by`: slices are written one after the other, not merged",
            ),
        ));
    }
    if settings.incremental == Incremental::Append {
        let help = "an appended product is its earlier parts plus a part of the new input's rows: it has no order across parts and is not built in slices";
        if !settings.order_by.is_empty() {
            return Err((
                Some("incremental"),
                invalid(format!(
                    "product `{name}`: `incremental: append` cannot keep a declared order"
                ))
                .with_help(help),
            ));
        }
        if settings.slices.is_some() {
            return Err((
                Some("incremental"),
                invalid(format!(
                    "product `{name}`: `incremental: append` cannot be built in slices"
                ))
                .with_help(help),
            ));
        }
        if contract_key {
            return Err((
                Some("incremental"),
                invalid(format!(
                    "product `{name}`: `incremental: append` cannot check its output contract's `key`: a new part's keys would have to be compared with every earlier part's"
                ))
                .with_help("remove `key:` from the output contract, or `incremental: append`"),
            ));
        }
        if settings.on_violation == Some(ViolationPolicy::Tolerant) {
            return Err((
                Some("on_violation"),
                invalid(format!(
                    "product `{name}`: `incremental: append` keeps no error file across parts, so it cannot be `on_violation: tolerant`"
                ))
                .with_help("an appended product fails on a refused row, as `on_violation: fail` does"),
            ));
        }
    }
    Ok(())
}

/// Where `key:` of product `name`'s entry is written.
impl crate::manifest::PackManifest {
    pub fn product_setting_span(&self, name: &str, key: &str) -> Option<Span> {
        let product = self.product_span(name)?;
        (0..)
            .map_while(|nth| rulec_diagnostics::yaml_key_span(self.text(), key, nth))
            .find(|span| span.start.line > product.start.line)
            .filter(|span| span.start.column > product.start.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_forms() {
        assert_eq!(Compression::parse("zstd"), Some(Compression::Zstd(1)));
        assert_eq!(Compression::parse("ZSTD(9)"), Some(Compression::Zstd(9)));
        assert_eq!(Compression::parse("zstd(23)"), None);
        assert_eq!(Compression::parse("snappy"), Some(Compression::Snappy));
        assert_eq!(Compression::parse("none"), Some(Compression::None));
        assert_eq!(Compression::parse("gzip"), None);
        assert_eq!(Compression::Zstd(9).render(), "zstd(9)");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("0"), None);
    }

    #[test]
    fn sort_keys() {
        let key = SortKey::parse("a DESC").unwrap();
        assert!(key.descending);
        assert_eq!(key.render(), "a desc");
        assert_eq!(SortKey::parse("a sideways"), None);
        assert_eq!(SortKey::parse("a desc b"), None);
    }
}
