//! The contract type grammar and its mapping to Arrow types.
//!
//! ```text
//! type   := bool | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
//!         | float16 | float32 | float64 | decimal(p, s) | utf8 | large_utf8 | utf8_view
//!         | binary | large_binary | binary_view | date32 | date64
//!         | timestamp(unit [, tz]) | list<type> | large_list<type>
//!         | struct<field, ...> | map<type, type>
//! field  := name ':' type [not null]
//! ```
//!
//! List items and struct fields are nullable unless marked `not null`; map keys are never
//! null. The names Arrow gives the inner fields (list item, map entries) are the ones the
//! Parquet reader produces, so a contract's schema equals what the engine reads.

use arrow_schema::{DataType, Field, Fields, TimeUnit};
use std::sync::Arc;

/// The name of a list's item field.
pub const LIST_ITEM_NAME: &str = "element";
/// The name of a map's entries field (its children are `key` and `value`).
pub const MAP_ENTRIES_NAME: &str = "key_value";

/// Parses a type written in the contract grammar.
pub fn parse_type(text: &str) -> Result<DataType, String> {
    let mut parser = TypeParser { text, pos: 0 };
    let ty = parser.parse_type()?;
    parser.skip_ws();
    if parser.pos < text.len() {
        return Err(format!(
            "unexpected `{}` after the type",
            &text[parser.pos..]
        ));
    }
    Ok(ty)
}

struct TypeParser<'a> {
    text: &'a str,
    pos: usize,
}

impl TypeParser<'_> {
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, expected: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, expected: char) -> Result<(), String> {
        if self.eat(expected) {
            Ok(())
        } else {
            Err(match self.peek() {
                Some(c) => format!(
                    "expected `{expected}` but found `{c}` at offset {}",
                    self.pos
                ),
                None => format!(
                    "expected `{expected}` but the type ended (is it cut off? quote types containing `,` or `:` in YAML)"
                ),
            })
        }
    }

    fn word(&mut self) -> Result<String, String> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        if start == self.pos {
            return Err(match self.peek() {
                Some(c) => format!("expected a type name but found `{c}`"),
                None => "expected a type name but the type ended".to_owned(),
            });
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    /// A field name: a word or a `"quoted"` / `` `quoted` `` name.
    fn field_name(&mut self) -> Result<String, String> {
        self.skip_ws();
        if let Some(quote @ ('"' | '`')) = self.peek() {
            self.pos += 1;
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == quote {
                    let name = self.text[start..self.pos].to_owned();
                    self.pos += 1;
                    return Ok(name);
                }
                self.pos += c.len_utf8();
            }
            return Err("unterminated quoted field name".to_owned());
        }
        self.word()
    }

    fn number(&mut self) -> Result<i64, String> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.text[start..self.pos]
            .parse()
            .map_err(|_| format!("expected a number at offset {start}"))
    }

    fn parse_type(&mut self) -> Result<DataType, String> {
        let name = self.word()?;
        let ty = match name.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => DataType::Boolean,
            "int8" => DataType::Int8,
            "int16" => DataType::Int16,
            "int32" => DataType::Int32,
            "int64" => DataType::Int64,
            "uint8" => DataType::UInt8,
            "uint16" => DataType::UInt16,
            "uint32" => DataType::UInt32,
            "uint64" => DataType::UInt64,
            "float16" => DataType::Float16,
            "float32" => DataType::Float32,
            "float64" => DataType::Float64,
            "utf8" | "string" => DataType::Utf8,
            "large_utf8" => DataType::LargeUtf8,
            "utf8_view" => DataType::Utf8View,
            "binary" => DataType::Binary,
            "large_binary" => DataType::LargeBinary,
            "binary_view" => DataType::BinaryView,
            "date32" => DataType::Date32,
            "date64" => DataType::Date64,
            "decimal" => {
                self.expect('(')?;
                let precision = self.number()?;
                self.expect(',')?;
                let scale = self.number()?;
                self.expect(')')?;
                decimal(precision, scale)?
            }
            "timestamp" => {
                self.expect('(')?;
                let unit = match self.word()?.to_ascii_lowercase().as_str() {
                    "s" | "second" => TimeUnit::Second,
                    "ms" | "millisecond" => TimeUnit::Millisecond,
                    "us" | "microsecond" => TimeUnit::Microsecond,
                    "ns" | "nanosecond" => TimeUnit::Nanosecond,
                    other => {
                        return Err(format!(
                            "unknown timestamp unit `{other}` (use s, ms, us or ns)"
                        ));
                    }
                };
                let tz = if self.eat(',') {
                    self.skip_ws();
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c != ')') {
                        self.pos += self.peek().map_or(1, char::len_utf8);
                    }
                    let tz = self.text[start..self.pos].trim().trim_matches(['"', '\'']);
                    if tz.is_empty() {
                        return Err("empty timestamp time zone".to_owned());
                    }
                    Some(Arc::from(tz))
                } else {
                    None
                };
                self.expect(')')?;
                DataType::Timestamp(unit, tz)
            }
            "list" => {
                self.expect('<')?;
                let (item, nullable) = self.parse_nullable_type()?;
                self.expect('>')?;
                DataType::List(Arc::new(Field::new(LIST_ITEM_NAME, item, nullable)))
            }
            "large_list" => {
                self.expect('<')?;
                let (item, nullable) = self.parse_nullable_type()?;
                self.expect('>')?;
                DataType::LargeList(Arc::new(Field::new(LIST_ITEM_NAME, item, nullable)))
            }
            "struct" => {
                self.expect('<')?;
                let mut fields: Vec<Field> = Vec::new();
                loop {
                    let name = self.field_name()?;
                    if fields.iter().any(|f| f.name() == &name) {
                        return Err(format!("struct field `{name}` is declared twice"));
                    }
                    self.expect(':')?;
                    let (ty, nullable) = self.parse_nullable_type()?;
                    fields.push(Field::new(name, ty, nullable));
                    if !self.eat(',') {
                        break;
                    }
                }
                self.expect('>')?;
                DataType::Struct(Fields::from(fields))
            }
            "map" => {
                self.expect('<')?;
                let key = self.parse_type()?;
                self.expect(',')?;
                let (value, nullable) = self.parse_nullable_type()?;
                self.expect('>')?;
                map_type(key, value, nullable)
            }
            other => return Err(format!("unknown type `{other}`")),
        };
        Ok(ty)
    }

    /// A type optionally followed by `not null`.
    fn parse_nullable_type(&mut self) -> Result<(DataType, bool), String> {
        let ty = self.parse_type()?;
        self.skip_ws();
        let rest = &self.text[self.pos..];
        let lower = rest.to_ascii_lowercase();
        if lower.starts_with("not ") || lower.starts_with("not\t") {
            let after = rest[3..].trim_start();
            if after.to_ascii_lowercase().starts_with("null") {
                self.pos = self.text.len() - after.len() + 4;
                return Ok((ty, false));
            }
        }
        Ok((ty, true))
    }
}

fn decimal(precision: i64, scale: i64) -> Result<DataType, String> {
    let p = u8::try_from(precision)
        .map_err(|_| format!("decimal precision {precision} is out of range"))?;
    let s = i8::try_from(scale).map_err(|_| format!("decimal scale {scale} is out of range"))?;
    if p == 0 || p > 76 {
        return Err(format!("decimal precision {p} must be between 1 and 76"));
    }
    if i16::from(s) > i16::from(p) {
        return Err(format!(
            "decimal scale {s} is larger than its precision {p}"
        ));
    }
    Ok(if p <= 38 {
        DataType::Decimal128(p, s)
    } else {
        DataType::Decimal256(p, s)
    })
}

/// The Arrow map type for `map<key, value>`.
pub fn map_type(key: DataType, value: DataType, value_nullable: bool) -> DataType {
    let entries = Field::new(
        MAP_ENTRIES_NAME,
        DataType::Struct(Fields::from(vec![
            Field::new("key", key, false),
            Field::new("value", value, value_nullable),
        ])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// Renders an Arrow type in the contract grammar. Types outside the grammar (which rule
/// outputs may have) get a descriptive lowercase form. The rendering is part of the schema
/// fingerprint: change it only with a fingerprint version bump.
pub fn render_type(ty: &DataType) -> String {
    match ty {
        DataType::Null => "null".into(),
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        DataType::Utf8View => "utf8_view".into(),
        DataType::Binary => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::BinaryView => "binary_view".into(),
        DataType::FixedSizeBinary(n) => format!("fixed_size_binary({n})"),
        DataType::Date32 => "date32".into(),
        DataType::Date64 => "date64".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p}, {s})"),
        DataType::Timestamp(unit, tz) => match tz {
            Some(tz) => format!("timestamp({}, {tz})", unit_name(*unit)),
            None => format!("timestamp({})", unit_name(*unit)),
        },
        DataType::Time32(unit) | DataType::Time64(unit) => format!("time({})", unit_name(*unit)),
        DataType::Duration(unit) => format!("duration({})", unit_name(*unit)),
        DataType::Interval(unit) => format!("interval({unit:?})").to_lowercase(),
        DataType::List(f) => format!("list<{}>", render_field_type(f)),
        DataType::LargeList(f) => format!("large_list<{}>", render_field_type(f)),
        DataType::ListView(f) => format!("list_view<{}>", render_field_type(f)),
        DataType::LargeListView(f) => format!("large_list_view<{}>", render_field_type(f)),
        DataType::FixedSizeList(f, n) => format!("fixed_size_list<{}, {n}>", render_field_type(f)),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", render_name(f.name()), render_field_type(f)))
                .collect();
            format!("struct<{}>", inner.join(", "))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!(
                    "map<{}, {}>",
                    render_type(kv[0].data_type()),
                    render_field_type(&kv[1])
                )
            }
            other => format!("map<{}>", render_type(other)),
        },
        DataType::Dictionary(k, v) => format!("dictionary<{}, {}>", render_type(k), render_type(v)),
        DataType::RunEndEncoded(r, v) => format!(
            "run_end_encoded<{}, {}>",
            render_type(r.data_type()),
            render_type(v.data_type())
        ),
        DataType::Union(_, _) => format!("union({ty})").to_lowercase(),
    }
}

fn render_field_type(field: &Field) -> String {
    if field.is_nullable() {
        render_type(field.data_type())
    } else {
        format!("{} not null", render_type(field.data_type()))
    }
}

fn render_name(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        name.to_owned()
    } else {
        format!("\"{name}\"")
    }
}

fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

/// Whether every value of type `from` converts to `to` without loss or failure (integer and
/// float widening, decimals that keep every digit, string and binary representations,
/// `date32` to `date64`, element-wise through lists and same-named struct fields). These
/// are the casts `run` applies when a product's computed type differs from its output
/// contract; any other difference is an error.
pub fn is_safe_cast(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to {
        return true;
    }
    let int_bits = |t: &DataType| match t {
        Int8 => Some((8, true)),
        Int16 => Some((16, true)),
        Int32 => Some((32, true)),
        Int64 => Some((64, true)),
        UInt8 => Some((8, false)),
        UInt16 => Some((16, false)),
        UInt32 => Some((32, false)),
        UInt64 => Some((64, false)),
        _ => None,
    };
    match (from, to) {
        (Null, _) => true,
        (a, b) if int_bits(a).is_some() && int_bits(b).is_some() => {
            let ((fb, fs), (tb, ts)) = (
                int_bits(a).unwrap_or((0, false)),
                int_bits(b).unwrap_or((0, false)),
            );
            match (fs, ts) {
                (true, true) | (false, false) => tb >= fb,
                (false, true) => tb > fb,
                (true, false) => false,
            }
        }
        (a, Float64) if int_bits(a).is_some_and(|(b, _)| b <= 32) => true,
        (a, Float32) if int_bits(a).is_some_and(|(b, _)| b <= 16) => true,
        (Float16, Float32 | Float64) | (Float32, Float64) => true,
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (Binary | LargeBinary | BinaryView, Binary | LargeBinary | BinaryView) => true,
        (Date32, Date64) => true,
        (Decimal128(p1, s1), Decimal128(p2, s2) | Decimal256(p2, s2)) => {
            s2 >= s1 && i16::from(*p2) - i16::from(*s2) >= i16::from(*p1) - i16::from(*s1)
        }
        (a, Decimal128(p, s) | Decimal256(p, s)) if int_bits(a).is_some() => {
            let digits = match int_bits(a).map(|(b, _)| b) {
                Some(8) => 3,
                Some(16) => 5,
                Some(32) => 10,
                _ => 20,
            };
            i16::from(*p) - i16::from(*s) >= digits
        }
        (List(a) | LargeList(a), List(b) | LargeList(b)) => {
            is_safe_cast(a.data_type(), b.data_type())
        }
        (Struct(a), Struct(b)) => {
            a.len() == b.len()
                && a.iter().zip(b.iter()).all(|(x, y)| {
                    x.name() == y.name() && is_safe_cast(x.data_type(), y.data_type())
                })
        }
        _ => false,
    }
}
