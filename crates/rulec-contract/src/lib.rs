//! Schema contracts: a YAML file declaring one table's columns, mapped to exactly one Arrow
//! schema, with a schema fingerprint.
//!
//! Architecture invariant: no DataFusion here, and no I/O: contracts are parsed from text
//! the caller read.

mod load;
mod types;

pub use load::{Contract, ContractColumn, parse_contract, partitionable};
pub use types::{LIST_ITEM_NAME, MAP_ENTRIES_NAME, is_safe_cast, parse_type, render_type};

use arrow_schema::Schema;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The version of the schema fingerprint encoding. Bump it when the encoding changes.
pub const SCHEMA_FINGERPRINT_VERSION: u32 = 1;

/// `sha256:<hex>` over field names (in order), types (rendered in the contract type
/// grammar), nullability, and metadata (sorted keys).
pub fn schema_fingerprint(schema: &Schema, metadata: &BTreeMap<String, String>) -> String {
    let mut text = format!("rulec-schema-v{SCHEMA_FINGERPRINT_VERSION}\n");
    for field in schema.fields() {
        let _ = writeln!(
            text,
            "field {} {} {}",
            escape(field.name()),
            render_type(field.data_type()),
            if field.is_nullable() {
                "null"
            } else {
                "not-null"
            }
        );
    }
    for (key, value) in metadata {
        let _ = writeln!(text, "meta {} {}", escape(key), escape(value));
    }
    sha256_hex(text.as_bytes())
}

/// `sha256:` followed by the lowercase hex digest of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

fn escape(s: &str) -> String {
    format!("{}:{s}", s.len())
}

#[cfg(test)]
mod tests;
