//! Column references with nested paths: `libcst_files.nodes[*].span.start.line0`.

use std::fmt;

/// One step below a top-level column: a struct field, or every element of a list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Field(String),
    Each,
}

/// A column, or a field nested inside one, of a table (a contract or a rule's product).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ColumnRef {
    pub table: String,
    pub column: String,
    pub steps: Vec<Step>,
}

impl ColumnRef {
    pub fn new(table: impl Into<String>, column: impl Into<String>) -> Self {
        ColumnRef {
            table: table.into(),
            column: column.into(),
            steps: Vec::new(),
        }
    }

    /// The rows of `table` as a whole: what a rule depends on when it reads no column of
    /// a table but its rows decide the result (`count(*)`, a cross join, `EXISTS`).
    /// Written `table.*`.
    pub fn rows(table: impl Into<String>) -> Self {
        ColumnRef::new(table, "")
    }

    pub fn is_rows(&self) -> bool {
        self.column.is_empty()
    }

    /// This reference with `steps` appended.
    pub fn nested(&self, steps: &[Step]) -> Self {
        let mut out = self.clone();
        out.steps.extend_from_slice(steps);
        out
    }

    /// The top-level column this reference is in.
    pub fn top(&self) -> ColumnRef {
        ColumnRef::new(self.table.clone(), self.column.clone())
    }

    /// Whether one of the two is inside the other (or they are equal): reading a struct
    /// reads its fields, and reading a field reads part of the struct.
    pub fn overlaps(&self, other: &ColumnRef) -> bool {
        self.table == other.table
            && self.column == other.column
            && self.steps.iter().zip(&other.steps).all(|(a, b)| a == b)
    }

    /// The path below the table: `nodes[*].span.start.line0` (`*` for the rows).
    pub fn path(&self) -> String {
        if self.is_rows() {
            return "*".to_owned();
        }
        let mut out = ident(&self.column);
        for step in &self.steps {
            match step {
                Step::Field(name) => {
                    out.push('.');
                    out.push_str(&ident(name));
                }
                Step::Each => out.push_str("[*]"),
            }
        }
        out
    }

    /// Parses `table[.column[.field|[*]]...]`; names may be double-quoted. Returns the
    /// table and, when given, the column reference.
    pub fn parse(text: &str) -> Result<(String, Option<ColumnRef>), String> {
        let mut parts: Vec<Part> = Vec::new();
        let mut chars = text.chars().peekable();
        let mut expect_name = true;
        while let Some(&c) = chars.peek() {
            if expect_name {
                let name = if c == '"' {
                    chars.next();
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                name.push('"');
                            }
                            Some('"') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("unclosed quote in `{text}`")),
                        }
                    }
                    name
                } else {
                    let mut name = String::new();
                    while let Some(&c) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        name.push(c);
                        chars.next();
                    }
                    name
                };
                if name.is_empty() {
                    return Err(format!("empty name in `{text}`"));
                }
                parts.push(Part::Name(name));
                expect_name = false;
            } else if c == '.' {
                chars.next();
                expect_name = true;
            } else if c == '[' {
                let rest: String = chars.clone().take(3).collect();
                if rest != "[*]" {
                    return Err(format!("expected `[*]` in `{text}`"));
                }
                chars.nth(2);
                if parts.len() < 2 {
                    return Err(format!("`[*]` must follow a column in `{text}`"));
                }
                parts.push(Part::Each);
            } else {
                return Err(format!("unexpected `{c}` in `{text}`"));
            }
        }
        if expect_name {
            return Err(format!("`{text}` is not `NAME` or `NAME.COLUMN`"));
        }
        let mut parts = parts.into_iter();
        let Some(Part::Name(table)) = parts.next() else {
            return Err(format!("`{text}` does not start with a table name"));
        };
        let Some(Part::Name(column)) = parts.next() else {
            return Ok((table, None));
        };
        if column == "*" && !text.ends_with("\"*\"") {
            return Ok((table.clone(), Some(ColumnRef::rows(table))));
        }
        let steps = parts
            .map(|p| match p {
                Part::Name(n) => Step::Field(n),
                Part::Each => Step::Each,
            })
            .collect();
        Ok((
            table.clone(),
            Some(ColumnRef {
                table,
                column,
                steps,
            }),
        ))
    }
}

enum Part {
    Name(String),
    Each,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", ident(&self.table), self.path())
    }
}

/// A name as written in a path: bare when it is a plain identifier, else double-quoted.
fn ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
