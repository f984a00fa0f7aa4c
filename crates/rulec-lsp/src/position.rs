//! Positions: rulec's spans (1-based lines, columns in characters) and the protocol's
//! (0-based lines, columns in UTF-16 code units), converted through the document's text;
//! and file URIs.

use lsp_types::{Position, Range, Uri};
use rulec_diagnostics::Span;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

/// The protocol position of a 1-based line and character column in `text`.
pub fn to_position(text: &str, line: u32, column: u32) -> Position {
    let line_text = text
        .split('\n')
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("");
    let units: usize = line_text
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(char::len_utf16)
        .sum();
    Position::new(
        line.saturating_sub(1),
        u32::try_from(units).unwrap_or(u32::MAX),
    )
}

/// The protocol range of a span in `text`.
pub fn to_range(text: &str, span: Span) -> Range {
    Range::new(
        to_position(text, span.start.line, span.start.column),
        to_position(text, span.end.line, span.end.column),
    )
}

/// The 1-based line and character column of a protocol position in `text` (clamped to the
/// line's end).
pub fn from_position(text: &str, position: Position) -> (u32, u32) {
    let line_text = text
        .split('\n')
        .nth(position.line as usize)
        .unwrap_or("")
        .trim_end_matches('\r');
    let mut units = 0usize;
    let mut chars = 0u32;
    for c in line_text.chars() {
        if units >= position.character as usize {
            break;
        }
        units += c.len_utf16();
        chars += 1;
    }
    (position.line + 1, chars + 1)
}

/// The path of a `file:` URI.
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let text = uri.as_str();
    let rest = text.strip_prefix("file://")?;
    // `file:///path` or `file://localhost/path`.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    let decoded = percent_decode(path)?;
    // `file:///C:/x` on Windows.
    let decoded = match decoded.as_bytes() {
        [b'/', drive, b':', ..] if drive.is_ascii_alphabetic() => decoded[1..].to_owned(),
        _ => decoded,
    };
    Some(PathBuf::from(decoded))
}

/// The `file:` URI of an absolute path.
pub fn path_to_uri(path: &Path) -> Uri {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut uri = String::from("file://");
    if !text.starts_with('/') {
        uri.push('/');
    }
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~:".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    Uri::from_str(&uri).unwrap_or_else(|_| {
        Uri::from_str("file:///").unwrap_or_else(|_| unreachable!("a valid URI"))
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        let text = "SELECT 'é😀' AS x\nFROM t";
        // `AS` is the 13th character; before it, 😀 is two UTF-16 units.
        assert_eq!(to_position(text, 1, 13), Position::new(0, 13));
        assert_eq!(from_position(text, Position::new(0, 13)), (1, 13));
        assert_eq!(from_position(text, Position::new(1, 99)), (2, 7));
    }

    #[test]
    fn uris_round_trip_paths() {
        let path = Path::new("/tmp/a pack/r#1.sql");
        let uri = path_to_uri(path);
        assert_eq!(uri.as_str(), "file:///tmp/a%20pack/r%231.sql");
        assert_eq!(uri_to_path(&uri).as_deref(), Some(path));
        let other = Uri::from_str("untitled:Untitled-1").expect("uri");
        assert_eq!(uri_to_path(&other), None);
    }
}
