//! Portable function names. A plan declares each function it calls under an extension URN
//! and a compound name (`name:argtypes`). rulec declares a function under a Substrait
//! standard extension (`extension:io.substrait:functions_arithmetic`, `add:i64_i64`) when
//! DataFusion's function means what the standard one means ([`STANDARD`]) and the argument
//! types match one of the standard signatures, and under rulec's own extension
//! ([`RULEC_URN`], the YAML file [`RULEC_EXTENSION_YAML`]) otherwise, by DataFusion's name.
//!
//! The standard signatures are read from the Substrait YAML files the `substrait` crate
//! embeds, so a compound name rulec emits is one the standard declares.

use datafusion::arrow::datatypes::{DataType, IntervalUnit};
use datafusion_substrait::substrait::proto::expression::literal::LiteralType;
use datafusion_substrait::substrait::proto::expression::reference_segment::ReferenceType;
use datafusion_substrait::substrait::proto::expression::{
    FieldReference, RexType, field_reference,
};
use datafusion_substrait::substrait::proto::{Expression, Type, r#type};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The URN of rulec's extension: DataFusion functions without a standard equivalent.
pub const RULEC_URN: &str = "extension:dev.rulec:functions";

/// rulec's extension YAML (`crates/rulec-substrait/extensions/functions_rulec.yaml`): every
/// function of rulec's registry and every DataFusion operator without a standard
/// equivalent, each with one variadic `any` signature (`name:any`).
pub const RULEC_EXTENSION_YAML: &str = include_str!("../extensions/functions_rulec.yaml");

/// The URI consumers of Substrait before 0.75 know rulec's extension by.
pub const RULEC_URI: &str = "https://rulec.dev/extensions/functions_rulec.yaml";

/// The URI a URN's extension had before URNs (Substrait 0.75), as consumers of those
/// versions (Arrow Acero, the Substrait validator) know it: the YAML's address in the
/// Substrait repository for a standard extension.
pub fn legacy_uri(urn: &str) -> Option<String> {
    if urn == RULEC_URN {
        return Some(RULEC_URI.to_owned());
    }
    let id = urn.strip_prefix(STANDARD_URN_PREFIX)?;
    Some(format!(
        "https://github.com/substrait-io/substrait/blob/main/extensions/{id}.yaml"
    ))
}

/// The prefix of the standard extensions' URNs.
const STANDARD_URN_PREFIX: &str = "extension:io.substrait:";

/// DataFusion functions (by the name its producer registers) that are the Substrait standard
/// function of the second name, argument for argument. A function is listed here only when
/// both mean the same on every input, nulls included; a standard signature must still match
/// the argument types.
pub const STANDARD: &[(&str, &str)] = &[
    // Comparison (functions_comparison).
    ("equal", "equal"),
    ("not_equal", "not_equal"),
    ("lt", "lt"),
    ("gt", "gt"),
    ("lte", "lte"),
    ("gte", "gte"),
    ("is_distinct_from", "is_distinct_from"),
    ("is_not_distinct_from", "is_not_distinct_from"),
    ("is_null", "is_null"),
    ("is_not_null", "is_not_null"),
    ("is_true", "is_true"),
    ("is_false", "is_false"),
    ("is_not_true", "is_not_true"),
    ("is_not_false", "is_not_false"),
    ("nullif", "nullif"),
    ("coalesce", "coalesce"),
    // Boolean (functions_boolean): Kleene logic in both.
    ("and", "and"),
    ("or", "or"),
    ("not", "not"),
    ("bool_and", "bool_and"),
    ("bool_or", "bool_or"),
    // Arithmetic (functions_arithmetic, functions_arithmetic_decimal, functions_datetime).
    ("add", "add"),
    ("subtract", "subtract"),
    ("multiply", "multiply"),
    ("divide", "divide"),
    ("modulus", "modulus"),
    ("negate", "negate"),
    ("abs", "abs"),
    ("bitwise_and", "bitwise_and"),
    ("bitwise_or", "bitwise_or"),
    ("bitwise_xor", "bitwise_xor"),
    ("bitwise_shift_left", "shift_left"),
    ("bitwise_shift_right", "shift_right"),
    ("sum", "sum"),
    ("avg", "avg"),
    ("min", "min"),
    ("max", "max"),
    ("count", "count"),
    // Window functions (functions_arithmetic).
    ("row_number", "row_number"),
    ("rank", "rank"),
    ("dense_rank", "dense_rank"),
    ("percent_rank", "percent_rank"),
    ("cume_dist", "cume_dist"),
    ("ntile", "ntile"),
    ("first_value", "first_value"),
    ("last_value", "last_value"),
    ("nth_value", "nth_value"),
    ("lead", "lead"),
    ("lag", "lag"),
    // Strings (functions_string). `||` propagates nulls as the standard `concat` does;
    // DataFusion's `concat()` function skips them, so it is rulec's.
    ("str_concat", "concat"),
    ("like", "like"),
    ("upper", "upper"),
    ("lower", "lower"),
    ("substring", "substring"),
    ("substr", "substring"),
    ("starts_with", "starts_with"),
    ("ends_with", "ends_with"),
    ("reverse", "reverse"),
    ("character_length", "char_length"),
    ("octet_length", "octet_length"),
    ("bit_length", "bit_length"),
    // Rounding and logarithms (functions_rounding, functions_logarithmic).
    ("ceil", "ceil"),
    ("floor", "floor"),
    ("round", "round"),
    ("ln", "ln"),
    ("log10", "log10"),
    ("log2", "log2"),
    ("sqrt", "sqrt"),
    ("exp", "exp"),
    ("power", "power"),
    // Datetime (functions_datetime): `date_part('year', d)` is `extract(YEAR, d)`, for the
    // components in [`EXTRACT_COMPONENTS`] (the producer writes the enumeration).
    ("date_part", "extract"),
    // Lists (functions_list).
    ("cardinality", "cardinality"),
];

/// DataFusion's `date_part` components that are the standard `extract`'s, as its
/// enumeration names them. (DataFusion's `second` counts fractions, `week` is ISO's and
/// `dow` starts on Sunday at 0: those stay rulec's `date_part`.)
pub const EXTRACT_COMPONENTS: &[(&str, &str)] = &[
    ("year", "YEAR"),
    ("quarter", "QUARTER"),
    ("month", "MONTH"),
    ("day", "DAY"),
    ("doy", "DAY_OF_YEAR"),
    ("hour", "HOUR"),
    ("minute", "MINUTE"),
];

/// The standard extensions searched for a signature, in this order (comparison before
/// datetime: `lt:any_any` for dates too).
const STANDARD_EXTENSIONS: &[&str] = &[
    "functions_comparison",
    "functions_boolean",
    "functions_arithmetic",
    "functions_arithmetic_decimal",
    "functions_datetime",
    "functions_string",
    "functions_rounding",
    "functions_rounding_decimal",
    "functions_logarithmic",
    "functions_aggregate_generic",
    "functions_list",
];

/// A function as a plan declares it: extension URN and compound name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Declared {
    pub urn: String,
    pub name: String,
}

impl Declared {
    /// Under rulec's extension, by DataFusion's name.
    pub(crate) fn rulec(datafusion_name: &str) -> Self {
        Declared {
            urn: RULEC_URN.to_owned(),
            name: format!("{datafusion_name}:any"),
        }
    }
}

/// One signature of a standard function: its arguments' short type names, and whether the
/// last one repeats (with the least number of repeats).
#[derive(Debug)]
struct Signature {
    args: Vec<String>,
    variadic_min: Option<usize>,
}

impl Signature {
    /// Whether arguments of these short type names (`None`: not known) match. A known type
    /// matches its own short name or `any`; an unknown one only `any`.
    fn accepts(&self, args: &[Option<String>]) -> bool {
        let fixed = match self.variadic_min {
            Some(min) => {
                let before = self.args.len().saturating_sub(1);
                if args.len() < before + min {
                    return false;
                }
                before
            }
            None => {
                if args.len() != self.args.len() {
                    return false;
                }
                args.len()
            }
        };
        args.iter().enumerate().all(|(i, actual)| {
            let declared = if i < fixed {
                &self.args[i]
            } else {
                match self.args.last() {
                    Some(last) => last,
                    None => return false,
                }
            };
            declared == "any" || actual.as_deref() == Some(declared.as_str())
        })
    }

    fn compound(&self, name: &str) -> String {
        format!("{name}:{}", self.args.join("_"))
    }
}

/// The standard signatures by function name, in [`STANDARD_EXTENSIONS`] order.
static SIGNATURES: LazyLock<BTreeMap<String, Vec<(String, Signature)>>> = LazyLock::new(|| {
    use std::str::FromStr as _;
    let mut out: BTreeMap<String, Vec<(String, Signature)>> = BTreeMap::new();
    for id in STANDARD_EXTENSIONS {
        let urn = format!("{STANDARD_URN_PREFIX}{id}");
        let key = datafusion_substrait::substrait::urn::Urn::from_str(&urn).expect("a valid URN");
        let Some(extension) = datafusion_substrait::substrait::extensions::EXTENSIONS.get(&key)
        else {
            continue;
        };
        let yaml = serde_json::to_value(extension).expect("an extension serializes");
        for kind in [
            "scalar_functions",
            "aggregate_functions",
            "window_functions",
        ] {
            let functions = yaml.get(kind).and_then(|f| f.as_array());
            for function in functions.into_iter().flatten() {
                let Some(name) = function.get("name").and_then(|n| n.as_str()) else {
                    continue;
                };
                let impls = function.get("impls").and_then(|i| i.as_array());
                for imp in impls.into_iter().flatten() {
                    if let Some(signature) = signature(imp) {
                        out.entry(name.to_owned())
                            .or_default()
                            .push((urn.clone(), signature));
                    }
                }
            }
        }
    }
    out
});

/// Reads the standard signatures now (see [`crate::warm_up`]).
pub(crate) fn warm_up() {
    LazyLock::force(&SIGNATURES);
}

/// A standard implementation's signature; `None` when it takes an argument rulec never
/// passes (a type argument, a lambda, a user-defined type).
fn signature(imp: &serde_json::Value) -> Option<Signature> {
    let mut args = Vec::new();
    for arg in imp
        .get("args")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
    {
        // An enumeration (`extract`'s component) is `req` in a compound name.
        if arg.get("options").is_some() {
            args.push("req".to_owned());
            continue;
        }
        let value = arg.get("value")?.as_str()?;
        args.push(declared_short_name(value)?);
    }
    let variadic_min = imp.get("variadic").map(|v| {
        v.get("min")
            .and_then(serde_json::Value::as_u64)
            .map_or(1, |m| m as usize)
    });
    Some(Signature { args, variadic_min })
}

/// The short name of a type as a YAML declares it (`decimal<P1,S1>` → `dec`, `any1` → `any`).
fn declared_short_name(declared: &str) -> Option<String> {
    let lower = declared.trim().trim_end_matches('?').to_ascii_lowercase();
    let base = lower.split('<').next().unwrap_or_default().trim();
    let short = match base {
        "boolean" => "bool",
        "i8" | "i16" | "i32" | "i64" | "fp32" | "fp64" | "date" | "time" | "uuid" | "list"
        | "map" | "struct" => base,
        "string" => "str",
        "binary" => "vbin",
        "timestamp" => "ts",
        "timestamp_tz" => "tstz",
        "interval_year" => "iyear",
        "interval_day" => "iday",
        "interval_compound" => "icompound",
        "fixedchar" => "fchar",
        "varchar" => "vchar",
        "fixedbinary" => "fbin",
        "decimal" => "dec",
        "precision_time" => "pt",
        "precision_timestamp" => "pts",
        "precision_timestamp_tz" => "ptstz",
        b if b.starts_with("any") => "any",
        _ => return None,
    };
    Some(short.to_owned())
}

/// The short name of the Substrait type DataFusion's producer writes for `data_type`;
/// `None` for types that have no standard meaning there (unsigned integers, which it
/// writes as signed ones with a variation, half floats, nulls, dictionaries).
pub fn data_type_short_name(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Boolean => "bool",
        DataType::Int8 => "i8",
        DataType::Int16 => "i16",
        DataType::Int32 => "i32",
        DataType::Int64 => "i64",
        DataType::Float32 => "fp32",
        DataType::Float64 => "fp64",
        DataType::Timestamp(_, None) => "pts",
        DataType::Timestamp(_, Some(_)) => "ptstz",
        DataType::Time32(_) | DataType::Time64(_) => "pt",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Interval(IntervalUnit::YearMonth) => "iyear",
        DataType::Interval(IntervalUnit::DayTime) | DataType::Duration(_) => "iday",
        DataType::Interval(IntervalUnit::MonthDayNano) => "icompound",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "vbin",
        DataType::FixedSizeBinary(_) => "fbin",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "str",
        DataType::List(_) | DataType::LargeList(_) => "list",
        DataType::Map(..) => "map",
        DataType::Struct(_) => "struct",
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => "dec",
        _ => return None,
    })
}

/// The short name of a Substrait type; `None` for user-defined types and for integers with
/// a variation (DataFusion's unsigned integers).
fn type_short_name(t: &Type) -> Option<&'static str> {
    use r#type::Kind;
    Some(match t.kind.as_ref()? {
        Kind::Bool(_) => "bool",
        Kind::I8(v) if v.type_variation_reference == 0 => "i8",
        Kind::I16(v) if v.type_variation_reference == 0 => "i16",
        Kind::I32(v) if v.type_variation_reference == 0 => "i32",
        Kind::I64(v) if v.type_variation_reference == 0 => "i64",
        Kind::Fp32(_) => "fp32",
        Kind::Fp64(_) => "fp64",
        Kind::String(_) => "str",
        Kind::Binary(_) => "vbin",
        #[expect(deprecated)]
        Kind::Timestamp(_) => "ts",
        #[expect(deprecated)]
        Kind::TimestampTz(_) => "tstz",
        Kind::Date(_) => "date",
        #[expect(deprecated)]
        Kind::Time(_) => "time",
        Kind::IntervalYear(_) => "iyear",
        Kind::IntervalDay(_) => "iday",
        Kind::IntervalCompound(_) => "icompound",
        Kind::FixedChar(_) => "fchar",
        Kind::Varchar(_) => "vchar",
        Kind::FixedBinary(_) => "fbin",
        Kind::Decimal(_) => "dec",
        Kind::PrecisionTime(_) => "pt",
        Kind::PrecisionTimestamp(_) => "pts",
        Kind::PrecisionTimestampTz(_) => "ptstz",
        Kind::Struct(_) => "struct",
        Kind::List(_) => "list",
        Kind::Map(_) => "map",
        Kind::Uuid(_) => "uuid",
        _ => return None,
    })
}

/// The short type name of an encoded argument, where the encoding says it: a literal, a
/// function's or a cast's output type, or a field of `fields` (the input's column types)
/// referenced directly.
pub(crate) fn argument_short_name(
    argument: &Expression,
    fields: &dyn Fn(usize) -> Option<DataType>,
) -> Option<String> {
    let short = match argument.rex_type.as_ref()? {
        // A variation on an integer literal is DataFusion's unsigned integer.
        RexType::Literal(literal)
            if literal.type_variation_reference != 0
                && matches!(
                    literal.literal_type,
                    Some(LiteralType::I8(_) | LiteralType::I16(_) | LiteralType::I32(_) | LiteralType::I64(_))
                ) =>
        {
            return None;
        }
        RexType::Literal(literal) => literal_short_name(literal.literal_type.as_ref()?)?,
        RexType::ScalarFunction(f) => type_short_name(f.output_type.as_ref()?)?,
        RexType::WindowFunction(f) => type_short_name(f.output_type.as_ref()?)?,
        RexType::Cast(cast) => type_short_name(cast.r#type.as_ref()?)?,
        RexType::Selection(reference) => {
            data_type_short_name(&fields(root_field(reference)?)?)?
        }
        // `x IN (…)`, `x IN (SELECT …)`, EXISTS: a boolean.
        RexType::SingularOrList(_) | RexType::MultiOrList(_) => "bool",
        RexType::Subquery(subquery)
            if !matches!(
                subquery.subquery_type,
                Some(datafusion_substrait::substrait::proto::expression::subquery::SubqueryType::Scalar(_))
            ) =>
        {
            "bool"
        }
        _ => return None,
    };
    Some(short.to_owned())
}

/// The column a field reference names directly in its input (no nested segment, no outer
/// query).
fn root_field(reference: &FieldReference) -> Option<usize> {
    if !matches!(
        reference.root_type,
        Some(field_reference::RootType::RootReference(_))
    ) {
        return None;
    }
    match reference.reference_type.as_ref()? {
        field_reference::ReferenceType::DirectReference(segment) => {
            match segment.reference_type.as_ref()? {
                ReferenceType::StructField(field) if field.child.is_none() => {
                    usize::try_from(field.field).ok()
                }
                _ => None,
            }
        }
        field_reference::ReferenceType::MaskedReference(_) => None,
    }
}

fn literal_short_name(literal: &LiteralType) -> Option<&'static str> {
    Some(match literal {
        LiteralType::Boolean(_) => "bool",
        LiteralType::I8(_) => "i8",
        LiteralType::I16(_) => "i16",
        LiteralType::I32(_) => "i32",
        LiteralType::I64(_) => "i64",
        LiteralType::Fp32(_) => "fp32",
        LiteralType::Fp64(_) => "fp64",
        LiteralType::String(_) => "str",
        LiteralType::Binary(_) => "vbin",
        LiteralType::Date(_) => "date",
        LiteralType::IntervalYearToMonth(_) => "iyear",
        LiteralType::IntervalDayToSecond(_) => "iday",
        LiteralType::IntervalCompound(_) => "icompound",
        LiteralType::FixedChar(_) => "fchar",
        LiteralType::VarChar(_) => "vchar",
        LiteralType::FixedBinary(_) => "fbin",
        LiteralType::Decimal(_) => "dec",
        LiteralType::PrecisionTime(_) => "pt",
        LiteralType::PrecisionTimestamp(_) => "pts",
        LiteralType::PrecisionTimestampTz(_) => "ptstz",
        LiteralType::Struct(_) => "struct",
        LiteralType::List(_) | LiteralType::EmptyList(_) => "list",
        LiteralType::Map(_) | LiteralType::EmptyMap(_) => "map",
        LiteralType::Uuid(_) => "uuid",
        LiteralType::Null(t) => type_short_name(t)?,
        _ => return None,
    })
}

/// The standard name of DataFusion's function `datafusion_name`, if it is one.
fn standard_name(datafusion_name: &str) -> Option<&'static str> {
    STANDARD
        .iter()
        .find(|(df, _)| *df == datafusion_name)
        .map(|(_, standard)| *standard)
}

/// How a plan declares DataFusion's function `datafusion_name` called with arguments of
/// these short type names (`None`: not known).
pub fn declare(datafusion_name: &str, args: &[Option<String>]) -> Declared {
    let Some(standard) = standard_name(datafusion_name) else {
        return Declared::rulec(datafusion_name);
    };
    let candidates = SIGNATURES.get(standard).into_iter().flatten();
    for (urn, signature) in candidates {
        if signature.accepts(args) {
            return Declared {
                urn: urn.clone(),
                name: signature.compound(standard),
            };
        }
    }
    Declared::rulec(datafusion_name)
}

/// The name DataFusion's consumer knows a declared function by: the standard name mapped
/// back to DataFusion's, rulec's by its DataFusion name, a plan without URNs (DataFusion's
/// producer, rulec before standard extensions) as written. `Err` for an extension rulec
/// does not know.
pub fn datafusion_name(urn: Option<&str>, name: &str) -> Result<String, String> {
    let base = name.split_once(':').map_or(name, |(base, _)| base);
    match urn {
        None => Ok(name.to_owned()),
        Some(RULEC_URN) => Ok(base.to_owned()),
        Some(urn) if urn.starts_with(STANDARD_URN_PREFIX) => Ok(STANDARD
            .iter()
            .find(|(_, standard)| *standard == base)
            .map_or(base, |(df, _)| *df)
            .to_owned()),
        Some(urn) => Err(format!(
            "function `{name}` is declared by extension `{urn}`, which rulec does not know (it knows `{STANDARD_URN_PREFIX}…` and `{RULEC_URN}`)"
        )),
    }
}

/// rulec's extension YAML as it should read: one variadic `any` signature per function of
/// rulec's registry and per DataFusion operator name without a standard equivalent.
pub fn rulec_extension_yaml() -> String {
    let functions = rulec_compile::Functions::get();
    let mut scalar: Vec<&str> = functions
        .scalar
        .keys()
        .chain(functions.higher_order.keys())
        .map(String::as_str)
        .chain(OPERATORS.iter().copied())
        .chain(UNARY.iter().copied())
        .collect();
    scalar.sort_unstable();
    scalar.dedup();
    let aggregate: Vec<&str> = functions.aggregate.keys().map(String::as_str).collect();
    let window: Vec<&str> = functions.window.keys().map(String::as_str).collect();
    let mut out = String::from(
        "%YAML 1.2\n---\n# rulec's Substrait extension: the DataFusion functions and operators rulec's plans may\n# call that have no Substrait standard equivalent (or are called with argument types no\n# standard signature takes). Each has one variadic `any` signature: compound name\n# `<name>:any`. The function is DataFusion's of that name (https://datafusion.apache.org/user-guide/sql/).\n# Generated from rulec's function registry: `cargo test -p rulec-substrait` rewrites it.\n#\n# rulec's Unnest relation is an ExtensionSingleRel whose detail has the type URL\n# `rulec.dev/extension/Unnest` (listed in the plan's expected_type_urls); its payload is\n# JSON: {\"version\": 1, \"columns\": [input positions], \"recursions\": [...], \"null_handling\": ...}.\nurn: extension:dev.rulec:functions\n",
    );
    // The type variations DataFusion's producer writes.
    out.push_str("type_variations:\n");
    for (anchor, description) in VARIATIONS {
        out.push_str(&format!(
            "  - parent: any\n    name: {}\n    description: \"{description}\"\n    functions: INHERITS\n",
            variation_name(*anchor)
        ));
    }
    // The types DataFusion's producer writes as user-defined ones.
    out.push_str("types:\n  - name: \"null\"\n    description: DataFusion's Null type\n  - name: \"fp16\"\n    description: a half-precision float\n");
    for (section, names) in [
        ("scalar_functions", scalar),
        ("aggregate_functions", aggregate),
        ("window_functions", window),
    ] {
        out.push_str(&format!("{section}:\n"));
        for name in names {
            out.push_str(&format!(
                "  - name: \"{name}\"\n    impls:\n      - args:\n          - name: args\n            value: any\n        variadic:\n          min: 0\n        return: any\n"
            ));
        }
    }
    out
}

/// The names DataFusion's producer gives binary operators (its `operator_to_name`).
const OPERATORS: &[&str] = &[
    "equal",
    "not_equal",
    "lt",
    "lte",
    "gt",
    "gte",
    "add",
    "subtract",
    "multiply",
    "divide",
    "modulus",
    "and",
    "or",
    "is_distinct_from",
    "is_not_distinct_from",
    "regex_match",
    "regex_imatch",
    "regex_not_match",
    "regex_not_imatch",
    "like_match",
    "like_imatch",
    "like_not_match",
    "like_not_imatch",
    "bitwise_and",
    "bitwise_or",
    "str_concat",
    "at_arrow",
    "arrow_at",
    "arrow",
    "long_arrow",
    "hash_arrow",
    "hash_long_arrow",
    "at_at",
    "integer_divide",
    "hash_minus",
    "at_question",
    "question",
    "question_and",
    "question_pipe",
    "bitwise_xor",
    "bitwise_shift_right",
    "bitwise_shift_left",
    "colon",
];

/// The names DataFusion's producer gives unary and LIKE expressions.
const UNARY: &[&str] = &[
    "not",
    "is_null",
    "is_not_null",
    "is_true",
    "is_false",
    "is_unknown",
    "is_not_true",
    "is_not_false",
    "is_not_unknown",
    "negate",
    "like",
    "ilike",
];

/// The type variations DataFusion's producer writes (a reference number per type, without
/// declaring it), which rulec's extension declares as `datafusion_<n>`: their meaning
/// depends on the type they vary.
pub const VARIATIONS: &[(u32, &str)] = &[
    (
        1,
        "DataFusion's type variation 1: on integers, unsigned (UInt8 to UInt64); on strings, binaries and lists, 64-bit offsets (LargeUtf8, LargeBinary, LargeList); on dates, milliseconds (Date64); on times, 64-bit (Time64); on decimals, 256-bit; on day intervals, a duration; on maps, a dictionary",
    ),
    (
        2,
        "DataFusion's type variation 2: on strings, binaries and lists, the view layouts (Utf8View, BinaryView, ListView)",
    ),
];

/// The name rulec's extension gives DataFusion's type variation `anchor`.
pub fn variation_name(anchor: u32) -> String {
    format!("datafusion_{anchor}")
}

/// The type variations DataFusion's producer writes for `plan`: of the types of every
/// relation's columns, literal and cast (every type a plan holds is one of those, or one
/// computed from them by a function whose result the relation's columns hold).
pub(crate) fn variations_used(plan: &datafusion::logical_expr::LogicalPlan) -> Vec<u32> {
    use datafusion::common::tree_node::{TreeNode as _, TreeNodeRecursion};
    use datafusion::logical_expr::Expr;
    let mut used = std::collections::BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        for field in node.schema().fields() {
            variations_of(field.data_type(), &mut used);
        }
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                match e {
                    Expr::Literal(value, _) => variations_of(&value.data_type(), &mut used),
                    Expr::Cast(cast) => variations_of(cast.field.data_type(), &mut used),
                    Expr::TryCast(cast) => variations_of(cast.field.data_type(), &mut used),
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    used.into_iter().collect()
}

fn variations_of(data_type: &DataType, used: &mut std::collections::BTreeSet<u32>) {
    match data_type {
        DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::LargeUtf8
        | DataType::LargeBinary
        | DataType::Date64
        | DataType::Time64(_)
        | DataType::Decimal256(..)
        | DataType::Duration(_) => {
            used.insert(1);
        }
        DataType::Utf8View | DataType::BinaryView => {
            used.insert(2);
        }
        DataType::LargeList(item) => {
            used.insert(1);
            variations_of(item.data_type(), used);
        }
        DataType::ListView(item) | DataType::LargeListView(item) => {
            used.insert(2);
            variations_of(item.data_type(), used);
        }
        DataType::List(item) | DataType::FixedSizeList(item, _) => {
            variations_of(item.data_type(), used);
        }
        DataType::Struct(fields) => {
            for field in fields {
                variations_of(field.data_type(), used);
            }
        }
        DataType::Map(entries, _) => variations_of(entries.data_type(), used),
        DataType::Dictionary(_, value) => {
            used.insert(1);
            variations_of(value, used);
        }
        _ => {}
    }
}
