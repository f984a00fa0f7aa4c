//! A small typed SQL grammar for the `sql_grammar` target, over the real tables of the CPG and
//! TPC-H contracts.
//!
//! The `Arbitrary` types below say *what* a query does; [`render`] turns them into SQL text
//! that is typed enough to plan most of the time: every expression is rendered at a requested
//! [`Class`] (number, string, boolean, date), columns are picked from the tables in scope by
//! index modulo the number of columns of that class, join keys pair columns of one class,
//! GROUP BY selects refer only to their keys outside aggregates, and the second branch of a
//! set operation is rendered at the first branch's column classes.
//!
//! Nested contract columns (lists, structs, maps) are flattened into scalar accessors
//! (`t."nodes"[1]['span']['start']['line0']`, `cardinality(t."blocks")`, `t."attrs"['name']`),
//! and a FROM source can unnest a list column as the CPG rules do.

use crate::CONTRACTS;
use arbitrary::Arbitrary;
use datafusion::arrow::datatypes::DataType;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// Expression nesting beyond which only columns and literals are rendered.
const MAX_EXPR_DEPTH: u32 = 5;
/// Query nesting (derived tables, subqueries) beyond which sources are plain tables and
/// subquery expressions are not rendered.
const MAX_QUERY_DEPTH: u32 = 2;
const MAX_ITEMS: usize = 6;
const MAX_KEYS: usize = 3;
const MAX_ORDER: usize = 3;
const MAX_LIST: usize = 4;
/// Nesting depth of struct fields and list elements turned into accessors.
const MAX_ACCESS_DEPTH: u32 = 4;

/// The value class an expression is rendered at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Arbitrary)]
pub enum Class {
    Num,
    Str,
    Bool,
    Date,
}

impl Class {
    fn of(ty: &DataType) -> Option<Class> {
        match ty {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _) => Some(Class::Num),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(Class::Str),
            DataType::Boolean => Some(Class::Bool),
            DataType::Date32 | DataType::Date64 => Some(Class::Date),
            _ => None,
        }
    }
}

/// A top-level column of a contract table.
#[derive(Debug)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
}

/// A contract table.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

/// The tables of the CPG and TPC-H contracts (the check fixtures' `t` and `u` are left out).
pub static TABLES: LazyLock<Vec<Table>> = LazyLock::new(|| {
    let wanted: Vec<&str> = crate::CPG_CONTRACTS
        .iter()
        .chain(crate::TPCH_CONTRACTS)
        .map(|(path, _)| *path)
        .collect();
    CONTRACTS
        .iter()
        .filter(|c| wanted.contains(&c.file.as_str()))
        .map(|c| Table {
            name: c.table.clone(),
            columns: c
                .schema
                .fields()
                .iter()
                .map(|f| Column {
                    name: f.name().clone(),
                    data_type: f.data_type().clone(),
                })
                .collect(),
        })
        .collect()
});

// ---------------------------------------------------------------------------------------
// The grammar.

/// A query: a SELECT or a set operation, then ORDER BY (output columns), LIMIT, OFFSET.
#[derive(Debug, Arbitrary)]
pub struct Query {
    pub body: Body,
    pub order_by: Vec<OrderKey>,
    pub limit: Option<u16>,
    pub offset: Option<u8>,
}

#[derive(Debug, Arbitrary)]
pub enum Body {
    Select(Box<Select>),
    /// The second branch is rendered at the column classes of the first.
    SetOp(SetOp, Box<Select>, Box<Select>),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum SetOp {
    UnionAll,
    Union,
    Intersect,
    Except,
}

#[derive(Debug, Arbitrary)]
pub struct OrderKey {
    pub column: u8,
    pub desc: bool,
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Arbitrary)]
pub struct Select {
    pub distinct: bool,
    pub items: Vec<(Class, E)>,
    pub from: FromClause,
    pub filter: Option<E>,
    pub group: Option<Group>,
}

/// GROUP BY keys (indices into the FROM scope; none: one global group) and HAVING.
#[derive(Debug, Arbitrary)]
pub struct Group {
    pub keys: Vec<u8>,
    pub having: Option<E>,
}

#[derive(Debug, Arbitrary)]
pub enum FromClause {
    One(Source),
    Join(JoinKind, Source, Source, u8, Option<E>),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Cross,
    LeftSemi,
    LeftAnti,
}

#[derive(Debug, Arbitrary)]
pub enum Source {
    /// A contract table, by index modulo the number of tables.
    Table(u8),
    /// `(SELECT <scalar columns>, unnest(<list column>) AS "el" FROM <table>)`.
    Unnest(u8, u8),
    /// A derived table.
    Derived(Box<Query>),
}

/// A subquery over one source: the column it yields (by index modulo the columns of the
/// class it is asked for), a filter, and an optional correlation (an equality between one
/// of its columns and one of the enclosing scope's, of the same class).
#[derive(Debug, Arbitrary)]
pub struct Sub {
    pub source: Source,
    pub column: u8,
    pub filter: Option<E>,
    pub correlate: Option<u8>,
}

/// An expression, rendered at the class its context asks for.
#[derive(Debug, Arbitrary)]
pub enum E {
    Col(u8),
    Lit(Lit),
    Arith(u8, Box<E>, Box<E>),
    Cmp(CmpOp, Class, Box<E>, Box<E>),
    Not(Box<E>),
    Func(u8, Box<E>),
    Case(Box<E>, Box<E>, Option<Box<E>>),
    SimpleCase(Class, Box<E>, Vec<(Lit, E)>, Option<Box<E>>),
    Cast(Class, u8, Box<E>),
    Coalesce(Box<E>, Box<E>),
    IsNull(Class, Box<E>, bool),
    InList(Class, Box<E>, Vec<Lit>, bool),
    Between(Class, Box<E>, Box<E>, Box<E>, bool),
    Like(Box<E>, String, u8),
    InSub(Box<E>, Box<Sub>, bool),
    Exists(Box<Sub>, bool),
    ScalarSub(Box<Sub>),
    Agg(u8, bool, Box<E>),
    Window(u8, Class, Option<Box<E>>, Box<E>),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    IsDistinctFrom,
    IsNotDistinctFrom,
}

#[derive(Debug, Arbitrary)]
pub enum Lit {
    Small(i8),
    Int(i32),
    Big(i64),
    Dec(i32, u8),
    Str(String),
    Null,
    Bool(bool),
    Date(u8),
}

// ---------------------------------------------------------------------------------------
// Rendering.

/// A scalar the query can refer to: `qual."head"rest`, or its `cardinality(...)`.
#[derive(Debug, Clone)]
struct Entry {
    qual: String,
    head: String,
    rest: String,
    card: bool,
    class: Class,
}

impl Entry {
    fn sql(&self) -> String {
        let base = format!("{}.{}{}", self.qual, ident(&self.head), self.rest);
        if self.card {
            format!("cardinality({base})")
        } else {
            base
        }
    }
}

/// Where an expression is rendered.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// What plain column references may name (the GROUP BY keys in a grouped SELECT).
    entries: &'a [Entry],
    /// What aggregate arguments may name (`Some` where aggregates are allowed).
    agg_scope: Option<&'a [Entry]>,
    /// Whether window functions are allowed (a plain SELECT list).
    window: bool,
    /// Query nesting.
    qdepth: u32,
}

struct Renderer {
    aliases: u32,
}

/// Renders a query as the text of a rule.
pub fn render(query: &Query) -> String {
    let mut r = Renderer { aliases: 0 };
    let (sql, _) = r.query(query, 0);
    sql
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Output column names: `c0`, `c1`, ...
fn out_name(i: usize) -> String {
    format!("c{i}")
}

const DATES: &[&str] = &[
    "1992-01-01",
    "1994-01-01",
    "1995-03-15",
    "1995-09-01",
    "1996-12-31",
    "1998-08-02",
    "1998-12-01",
    "1970-01-01",
];

const WORDS: &[&str] = &[
    "BUILDING",
    "FURNITURE",
    "Name",
    "Call",
    "FunctionDef",
    "ASIA",
    "",
    "module",
];

fn flatten(qual: &str, head: &str, rest: String, ty: &DataType, depth: u32, out: &mut Vec<Entry>) {
    if let Some(class) = Class::of(ty) {
        out.push(Entry {
            qual: qual.to_owned(),
            head: head.to_owned(),
            rest,
            card: false,
            class,
        });
        return;
    }
    if depth >= MAX_ACCESS_DEPTH {
        return;
    }
    match ty {
        DataType::Struct(fields) => {
            for f in fields {
                let rest = format!("{rest}[{}]", quote(f.name()));
                flatten(qual, head, rest, f.data_type(), depth + 1, out);
            }
        }
        DataType::List(item) | DataType::LargeList(item) => {
            out.push(Entry {
                qual: qual.to_owned(),
                head: head.to_owned(),
                rest: rest.clone(),
                card: true,
                class: Class::Num,
            });
            flatten(
                qual,
                head,
                format!("{rest}[1]"),
                item.data_type(),
                depth + 1,
                out,
            );
        }
        DataType::Map(entries, _) => {
            if let DataType::Struct(kv) = entries.data_type()
                && let Some(value) = kv.get(1)
            {
                let rest = format!("{rest}['name']");
                flatten(qual, head, rest, value.data_type(), depth + 1, out);
            }
        }
        _ => {}
    }
}

fn pick(entries: &[Entry], class: Class, index: u8) -> Option<&Entry> {
    let of_class: Vec<&Entry> = entries.iter().filter(|e| e.class == class).collect();
    if of_class.is_empty() {
        None
    } else {
        Some(of_class[usize::from(index) % of_class.len()])
    }
}

/// A literal of `class` for a small number.
fn small_lit(class: Class, n: i64) -> String {
    match class {
        Class::Num => n.to_string(),
        Class::Str => quote(WORDS[n.unsigned_abs() as usize % WORDS.len()]),
        Class::Bool => if n % 2 == 0 { "TRUE" } else { "FALSE" }.to_owned(),
        Class::Date => format!("DATE '{}'", DATES[n.unsigned_abs() as usize % DATES.len()]),
    }
}

fn lit(l: &Lit, class: Class) -> String {
    let n: i64 = match l {
        Lit::Small(v) => i64::from(*v),
        Lit::Int(v) => i64::from(*v),
        Lit::Big(v) => *v,
        Lit::Dec(v, _) => i64::from(*v),
        Lit::Str(s) => s.len() as i64,
        Lit::Null => {
            return match class {
                Class::Date => "CAST(NULL AS DATE)".to_owned(),
                _ => "NULL".to_owned(),
            };
        }
        Lit::Bool(b) => i64::from(*b),
        Lit::Date(d) => i64::from(*d),
    };
    match (class, l) {
        (Class::Num, Lit::Dec(v, scale)) => {
            let scale = u32::from(*scale % 5);
            let div = 10i64.pow(scale);
            let v = i64::from(*v);
            if scale == 0 {
                format!("{v}.0")
            } else {
                let sign = if v < 0 { "-" } else { "" };
                format!(
                    "{sign}{}.{:0width$}",
                    v.unsigned_abs() / div as u64,
                    v.unsigned_abs() % div as u64,
                    width = scale as usize
                )
            }
        }
        (Class::Str, Lit::Str(s)) => {
            // Backslashes stay out: whether they escape depends on the dialect.
            let s: String = s.chars().filter(|c| *c != '\\').take(12).collect();
            quote(&s)
        }
        (Class::Str, Lit::Int(_) | Lit::Big(_) | Lit::Small(_)) => quote(&n.to_string()),
        _ => small_lit(class, n),
    }
}

impl Renderer {
    fn alias(&mut self) -> String {
        let a = format!("t{}", self.aliases);
        self.aliases += 1;
        a
    }

    /// A query and the classes of its output columns.
    fn query(&mut self, q: &Query, qdepth: u32) -> (String, Vec<Class>) {
        let (mut sql, classes) = match &q.body {
            Body::Select(s) => self.select(s, None, qdepth),
            Body::SetOp(op, a, b) => {
                let (left, classes) = self.select(a, None, qdepth);
                let (right, _) = self.select(b, Some(&classes), qdepth);
                let op = match op {
                    SetOp::UnionAll => "UNION ALL",
                    SetOp::Union => "UNION",
                    SetOp::Intersect => "INTERSECT",
                    SetOp::Except => "EXCEPT",
                };
                (format!("{left}\n{op}\n{right}"), classes)
            }
        };
        let keys: Vec<String> = q
            .order_by
            .iter()
            .take(MAX_ORDER)
            .map(|k| {
                let mut key = ident(&out_name(usize::from(k.column) % classes.len()));
                if k.desc {
                    key.push_str(" DESC");
                }
                match k.nulls_first {
                    Some(true) => key.push_str(" NULLS FIRST"),
                    Some(false) => key.push_str(" NULLS LAST"),
                    None => {}
                }
                key
            })
            .collect();
        if !keys.is_empty() {
            let _ = write!(sql, "\nORDER BY {}", keys.join(", "));
        }
        if let Some(limit) = q.limit {
            let _ = write!(sql, "\nLIMIT {limit}");
        }
        if let Some(offset) = q.offset {
            let _ = write!(sql, "\nOFFSET {offset}");
        }
        (sql, classes)
    }

    /// A SELECT; `forced` gives the classes of its columns (a set operation's second branch).
    fn select(
        &mut self,
        s: &Select,
        forced: Option<&[Class]>,
        qdepth: u32,
    ) -> (String, Vec<Class>) {
        let (from, entries) = self.from(&s.from, qdepth);
        let default_item = (Class::Num, E::Col(0));
        let items: Vec<(Class, &E)> = match forced {
            Some(classes) => classes
                .iter()
                .enumerate()
                .map(|(i, class)| {
                    let e = if s.items.is_empty() {
                        &default_item.1
                    } else {
                        &s.items[i % s.items.len()].1
                    };
                    (*class, e)
                })
                .collect(),
            None if s.items.is_empty() => vec![(default_item.0, &default_item.1)],
            None => s
                .items
                .iter()
                .take(MAX_ITEMS)
                .map(|(c, e)| (*c, e))
                .collect(),
        };
        let full = Scope {
            entries: &entries,
            agg_scope: None,
            window: false,
            qdepth,
        };
        let mut sql = String::from("SELECT ");
        if s.distinct {
            sql.push_str("DISTINCT ");
        }
        let mut group_sql = String::new();
        let keys: Vec<Entry>;
        let item_scope = match &s.group {
            Some(group) => {
                let mut chosen: Vec<Entry> = Vec::new();
                for k in group.keys.iter().take(MAX_KEYS) {
                    if entries.is_empty() {
                        break;
                    }
                    let e = &entries[usize::from(*k) % entries.len()];
                    if !chosen.iter().any(|c| c.sql() == e.sql()) {
                        chosen.push(e.clone());
                    }
                }
                keys = chosen;
                if !keys.is_empty() {
                    let list: Vec<String> = keys.iter().map(Entry::sql).collect();
                    let _ = write!(group_sql, "\nGROUP BY {}", list.join(", "));
                }
                Scope {
                    entries: &keys,
                    agg_scope: Some(&entries),
                    window: false,
                    qdepth,
                }
            }
            None => Scope {
                entries: &entries,
                agg_scope: None,
                window: true,
                qdepth,
            },
        };
        let rendered: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, (class, e))| {
                format!(
                    "{} AS {}",
                    self.expr(e, *class, item_scope, 0),
                    ident(&out_name(i))
                )
            })
            .collect();
        sql.push_str(&rendered.join(",\n  "));
        let _ = write!(sql, "\nFROM {from}");
        if let Some(filter) = &s.filter {
            let _ = write!(sql, "\nWHERE {}", self.expr(filter, Class::Bool, full, 0));
        }
        sql.push_str(&group_sql);
        if let Some(Group {
            having: Some(having),
            ..
        }) = &s.group
        {
            let having = self.expr(having, Class::Bool, item_scope, 0);
            let _ = write!(sql, "\nHAVING {having}");
        }
        (sql, items.iter().map(|(c, _)| *c).collect())
    }

    fn from(&mut self, f: &FromClause, qdepth: u32) -> (String, Vec<Entry>) {
        match f {
            FromClause::One(source) => self.source(source, qdepth),
            FromClause::Join(kind, left, right, pick_key, extra) => {
                let (lsql, lentries) = self.source(left, qdepth);
                let (rsql, rentries) = self.source(right, qdepth);
                let mut all = lentries.clone();
                all.extend(rentries.iter().cloned());
                let keyword = match kind {
                    JoinKind::Inner => "JOIN",
                    JoinKind::Left => "LEFT JOIN",
                    JoinKind::Right => "RIGHT JOIN",
                    JoinKind::Full => "FULL JOIN",
                    JoinKind::Cross => "CROSS JOIN",
                    JoinKind::LeftSemi => "LEFT SEMI JOIN",
                    JoinKind::LeftAnti => "LEFT ANTI JOIN",
                };
                let mut sql = format!("{lsql}\n{keyword} {rsql}");
                if !matches!(kind, JoinKind::Cross) {
                    let mut conditions = Vec::new();
                    let pairs: Vec<(&Entry, &Entry)> = lentries
                        .iter()
                        .flat_map(|l| {
                            rentries
                                .iter()
                                .filter(move |r| r.class == l.class)
                                .map(move |r| (l, r))
                        })
                        .collect();
                    if !pairs.is_empty() {
                        let (l, r) = pairs[usize::from(*pick_key) % pairs.len()];
                        conditions.push(format!("{} = {}", l.sql(), r.sql()));
                    }
                    if let Some(extra) = extra {
                        let scope = Scope {
                            entries: &all,
                            agg_scope: None,
                            window: false,
                            qdepth,
                        };
                        conditions.push(self.expr(extra, Class::Bool, scope, 0));
                    }
                    if conditions.is_empty() {
                        conditions.push("TRUE".to_owned());
                    }
                    let _ = write!(sql, " ON {}", conditions.join(" AND "));
                }
                let entries = match kind {
                    JoinKind::LeftSemi | JoinKind::LeftAnti => lentries,
                    _ => all,
                };
                (sql, entries)
            }
        }
    }

    fn table(&mut self, index: u8) -> (String, Vec<Entry>) {
        let tables = &*TABLES;
        let table = &tables[usize::from(index) % tables.len()];
        let alias = self.alias();
        let mut entries = Vec::new();
        for c in &table.columns {
            flatten(
                &alias,
                &c.name,
                String::new(),
                &c.data_type,
                0,
                &mut entries,
            );
        }
        (format!("{} AS {alias}", ident(&table.name)), entries)
    }

    fn source(&mut self, s: &Source, qdepth: u32) -> (String, Vec<Entry>) {
        match s {
            Source::Table(i) => self.table(*i),
            Source::Unnest(t, l) => {
                let tables = &*TABLES;
                let table = &tables[usize::from(*t) % tables.len()];
                let lists: Vec<&Column> = table
                    .columns
                    .iter()
                    .filter(|c| matches!(c.data_type, DataType::List(_) | DataType::LargeList(_)))
                    .collect();
                if lists.is_empty() {
                    return self.table(*t);
                }
                let list = lists[usize::from(*l) % lists.len()];
                let inner = self.alias();
                let alias = self.alias();
                let mut items = Vec::new();
                let mut entries = Vec::new();
                for c in &table.columns {
                    if let Some(class) = Class::of(&c.data_type) {
                        items.push(format!("{inner}.{}", ident(&c.name)));
                        entries.push(Entry {
                            qual: alias.clone(),
                            head: c.name.clone(),
                            rest: String::new(),
                            card: false,
                            class,
                        });
                    }
                }
                items.push(format!("unnest({inner}.{}) AS \"el\"", ident(&list.name)));
                if let DataType::List(item) | DataType::LargeList(item) = &list.data_type {
                    flatten(
                        &alias,
                        "el",
                        String::new(),
                        item.data_type(),
                        0,
                        &mut entries,
                    );
                }
                let sql = format!(
                    "(SELECT {} FROM {} AS {inner}) AS {alias}",
                    items.join(", "),
                    ident(&table.name)
                );
                (sql, entries)
            }
            Source::Derived(q) => {
                if qdepth >= MAX_QUERY_DEPTH {
                    return self.table(0);
                }
                let (sql, classes) = self.query(q, qdepth + 1);
                let alias = self.alias();
                let entries = classes
                    .iter()
                    .enumerate()
                    .map(|(i, class)| Entry {
                        qual: alias.clone(),
                        head: out_name(i),
                        rest: String::new(),
                        card: false,
                        class: *class,
                    })
                    .collect();
                (format!("(\n{sql}\n) AS {alias}"), entries)
            }
        }
    }

    /// A column of `class` from the scope, or a literal when there is none.
    fn column(&self, index: u8, class: Class, scope: Scope<'_>) -> String {
        match pick(scope.entries, class, index) {
            Some(e) => e.sql(),
            None => small_lit(class, i64::from(index)),
        }
    }

    /// A boolean condition turned into a value of `class`.
    fn bool_as(&self, cond: String, class: Class) -> String {
        match class {
            Class::Bool => cond,
            _ => format!(
                "CASE WHEN {cond} THEN {} ELSE {} END",
                small_lit(class, 1),
                small_lit(class, 2)
            ),
        }
    }

    fn expr(&mut self, e: &E, class: Class, scope: Scope<'_>, depth: u32) -> String {
        if depth > MAX_EXPR_DEPTH {
            return match e {
                E::Lit(l) => lit(l, class),
                _ => self.column(depth as u8, class, scope),
            };
        }
        let d = depth + 1;
        match e {
            E::Col(i) => self.column(*i, class, scope),
            E::Lit(l) => lit(l, class),
            E::Arith(op, a, b) => match class {
                Class::Num => {
                    let ops = ["+", "-", "*", "/", "%"];
                    let op = ops[usize::from(*op) % ops.len()];
                    let a = self.expr(a, Class::Num, scope, d);
                    let b = self.expr(b, Class::Num, scope, d);
                    format!("({a} {op} {b})")
                }
                Class::Str => {
                    let a = self.expr(a, Class::Str, scope, d);
                    let b = self.expr(b, Class::Str, scope, d);
                    format!("({a} || {b})")
                }
                Class::Bool => {
                    let op = if op % 2 == 0 { "AND" } else { "OR" };
                    let a = self.expr(a, Class::Bool, scope, d);
                    let b = self.expr(b, Class::Bool, scope, d);
                    format!("({a} {op} {b})")
                }
                Class::Date => {
                    let units = ["DAY", "MONTH", "YEAR"];
                    let unit = units[usize::from(*op) % units.len()];
                    let sign = if op % 2 == 0 { "+" } else { "-" };
                    let a = self.expr(a, Class::Date, scope, d);
                    format!("({a} {sign} INTERVAL '{}' {unit})", op % 13 + 1)
                }
            },
            E::Cmp(op, c, a, b) => {
                let a = self.expr(a, *c, scope, d);
                let b = self.expr(b, *c, scope, d);
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::NotEq => "<>",
                    CmpOp::Lt => "<",
                    CmpOp::LtEq => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::GtEq => ">=",
                    CmpOp::IsDistinctFrom => "IS DISTINCT FROM",
                    CmpOp::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
                };
                self.bool_as(format!("({a} {op} {b})"), class)
            }
            E::Not(a) => {
                let a = self.expr(a, class, scope, d);
                match class {
                    Class::Bool => format!("(NOT {a})"),
                    Class::Num => format!("(- {a})"),
                    Class::Str => format!("upper({a})"),
                    Class::Date => format!("({a} - INTERVAL '1' DAY)"),
                }
            }
            E::Func(f, a) => self.func(*f, a, class, scope, d),
            E::Case(c, a, b) => {
                let c = self.expr(c, Class::Bool, scope, d);
                let a = self.expr(a, class, scope, d);
                match b {
                    Some(b) => {
                        let b = self.expr(b, class, scope, d);
                        format!("CASE WHEN {c} THEN {a} ELSE {b} END")
                    }
                    None => format!("CASE WHEN {c} THEN {a} END"),
                }
            }
            E::SimpleCase(c, x, arms, otherwise) => {
                let x = self.expr(x, *c, scope, d);
                let mut sql = format!("CASE {x}");
                if arms.is_empty() {
                    let _ = write!(
                        sql,
                        " WHEN {} THEN {}",
                        small_lit(*c, 0),
                        small_lit(class, 0)
                    );
                }
                for (l, e) in arms.iter().take(MAX_LIST) {
                    let l = lit(l, *c);
                    let e = self.expr(e, class, scope, d);
                    let _ = write!(sql, " WHEN {l} THEN {e}");
                }
                if let Some(o) = otherwise {
                    let o = self.expr(o, class, scope, d);
                    let _ = write!(sql, " ELSE {o}");
                }
                sql.push_str(" END");
                sql
            }
            E::Cast(from, ty, a) => {
                let a = self.expr(a, *from, scope, d);
                let cast = if ty & 0x80 == 0 { "CAST" } else { "TRY_CAST" };
                let target = match class {
                    Class::Num => {
                        let types = [
                            "BIGINT",
                            "INT",
                            "DOUBLE",
                            "DECIMAL(15, 2)",
                            "SMALLINT",
                            "REAL",
                            "TINYINT",
                            "DECIMAL(38, 10)",
                        ];
                        types[usize::from(*ty) % types.len()]
                    }
                    Class::Str => "VARCHAR",
                    Class::Bool => "BOOLEAN",
                    Class::Date => "DATE",
                };
                format!("{cast}({a} AS {target})")
            }
            E::Coalesce(a, b) => {
                let a = self.expr(a, class, scope, d);
                let b = self.expr(b, class, scope, d);
                format!("coalesce({a}, {b})")
            }
            E::IsNull(c, a, negated) => {
                let a = self.expr(a, *c, scope, d);
                let not = if *negated { "NOT " } else { "" };
                self.bool_as(format!("({a} IS {not}NULL)"), class)
            }
            E::InList(c, a, lits, negated) => {
                let a = self.expr(a, *c, scope, d);
                let mut list: Vec<String> =
                    lits.iter().take(MAX_LIST).map(|l| lit(l, *c)).collect();
                if list.is_empty() {
                    list.push(small_lit(*c, 0));
                }
                let not = if *negated { "NOT " } else { "" };
                self.bool_as(format!("({a} {not}IN ({}))", list.join(", ")), class)
            }
            E::Between(c, a, lo, hi, negated) => {
                let a = self.expr(a, *c, scope, d);
                let lo = self.expr(lo, *c, scope, d);
                let hi = self.expr(hi, *c, scope, d);
                let not = if *negated { "NOT " } else { "" };
                self.bool_as(format!("({a} {not}BETWEEN {lo} AND {hi})"), class)
            }
            E::Like(a, pattern, how) => {
                let a = self.expr(a, Class::Str, scope, d);
                let pattern: String = pattern.chars().filter(|c| *c != '\\').take(8).collect();
                let pattern = match how % 4 {
                    0 => format!("%{pattern}%"),
                    1 => format!("{pattern}%"),
                    2 => format!("_{pattern}"),
                    _ => pattern,
                };
                let not = if how & 0x10 != 0 { "NOT " } else { "" };
                let op = if how & 0x20 != 0 { "ILIKE" } else { "LIKE" };
                self.bool_as(format!("({a} {not}{op} {})", quote(&pattern)), class)
            }
            E::InSub(a, sub, negated) => {
                if scope.qdepth >= MAX_QUERY_DEPTH {
                    return self.bool_as(small_lit(Class::Bool, 0), class);
                }
                let (src, entries) = self.source(&sub.source, scope.qdepth + 1);
                let Some(column) = entries
                    .get(usize::from(sub.column) % entries.len().max(1))
                    .cloned()
                else {
                    return self.bool_as(small_lit(Class::Bool, 1), class);
                };
                let a = self.expr(a, column.class, scope, d);
                let where_ = self.sub_filter(sub, &entries, scope, d);
                let not = if *negated { "NOT " } else { "" };
                self.bool_as(
                    format!("({a} {not}IN (SELECT {} FROM {src}{where_}))", column.sql()),
                    class,
                )
            }
            E::Exists(sub, negated) => {
                if scope.qdepth >= MAX_QUERY_DEPTH {
                    return self.bool_as(small_lit(Class::Bool, 0), class);
                }
                let (src, entries) = self.source(&sub.source, scope.qdepth + 1);
                let where_ = self.sub_filter(sub, &entries, scope, d);
                let not = if *negated { "NOT " } else { "" };
                self.bool_as(
                    format!("({not}EXISTS (SELECT 1 FROM {src}{where_}))"),
                    class,
                )
            }
            E::ScalarSub(sub) => {
                if scope.qdepth >= MAX_QUERY_DEPTH {
                    return small_lit(class, 3);
                }
                let (src, entries) = self.source(&sub.source, scope.qdepth + 1);
                let value = match (pick(&entries, class, sub.column), class) {
                    (Some(e), Class::Bool) => format!("bool_or({})", e.sql()),
                    (Some(e), Class::Num) if sub.column % 2 == 0 => format!("sum({})", e.sql()),
                    (Some(e), Class::Str) => format!("min({})", e.sql()),
                    (Some(e), _) => format!("max({})", e.sql()),
                    (None, Class::Num) => "count(*)".to_owned(),
                    (None, _) => format!("max({})", small_lit(class, 4)),
                };
                let where_ = self.sub_filter(sub, &entries, scope, d);
                format!("(SELECT {value} FROM {src}{where_})")
            }
            E::Agg(f, distinct, a) => {
                let Some(agg_entries) = scope.agg_scope else {
                    return self.expr(a, class, scope, d);
                };
                let inner = Scope {
                    entries: agg_entries,
                    agg_scope: None,
                    window: false,
                    qdepth: scope.qdepth,
                };
                let dist = if *distinct { "DISTINCT " } else { "" };
                match class {
                    Class::Num => {
                        let fs = [
                            "count", "sum", "avg", "min", "max", "stddev", "median", "count*",
                        ];
                        match fs[usize::from(*f) % fs.len()] {
                            "count*" => "count(*)".to_owned(),
                            "count" => {
                                let classes = [Class::Num, Class::Str, Class::Bool, Class::Date];
                                let c = classes[usize::from(*f / 8) % classes.len()];
                                let a = self.expr(a, c, inner, d);
                                format!("count({dist}{a})")
                            }
                            name => {
                                let a = self.expr(a, Class::Num, inner, d);
                                format!("{name}({dist}{a})")
                            }
                        }
                    }
                    Class::Str => {
                        let a = self.expr(a, Class::Str, inner, d);
                        match f % 3 {
                            0 => format!("min({a})"),
                            1 => format!("max({a})"),
                            _ => format!("string_agg({a}, ',')"),
                        }
                    }
                    Class::Bool => {
                        let a = self.expr(a, Class::Bool, inner, d);
                        if f % 2 == 0 {
                            format!("bool_and({a})")
                        } else {
                            format!("bool_or({a})")
                        }
                    }
                    Class::Date => {
                        let a = self.expr(a, Class::Date, inner, d);
                        if f % 2 == 0 {
                            format!("min({a})")
                        } else {
                            format!("max({a})")
                        }
                    }
                }
            }
            E::Window(f, pclass, partition, order) => {
                if !scope.window {
                    return self.expr(order, class, scope, d);
                }
                let inner = Scope {
                    window: false,
                    ..scope
                };
                let mut over = String::new();
                if let Some(p) = partition {
                    let p = self.expr(p, *pclass, inner, d);
                    let _ = write!(over, "PARTITION BY {p} ");
                }
                let o = self.expr(order, class, inner, d);
                let o_num = self.column(*f, Class::Num, inner);
                let ordered = if class == Class::Num {
                    o.clone()
                } else {
                    o_num.clone()
                };
                let _ = write!(over, "ORDER BY {ordered}");
                match class {
                    Class::Num => {
                        let fs = [
                            "row_number()",
                            "rank()",
                            "dense_rank()",
                            "sum",
                            "count",
                            "lag",
                            "ntile(4)",
                            "avg",
                        ];
                        match fs[usize::from(*f) % fs.len()] {
                            "sum" | "count" | "lag" | "avg" => {
                                let name = fs[usize::from(*f) % fs.len()];
                                format!("{name}({o}) OVER ({over})")
                            }
                            call => format!("{call} OVER ({over})"),
                        }
                    }
                    _ => {
                        let fs = ["first_value", "last_value", "lag", "lead"];
                        let name = fs[usize::from(*f) % fs.len()];
                        format!("{name}({o}) OVER ({over})")
                    }
                }
            }
        }
    }

    /// ` WHERE <filter> AND <correlation>` of a subquery (or nothing).
    fn sub_filter(&mut self, sub: &Sub, entries: &[Entry], outer: Scope<'_>, depth: u32) -> String {
        let mut conditions = Vec::new();
        if let Some(filter) = &sub.filter {
            let scope = Scope {
                entries,
                agg_scope: None,
                window: false,
                qdepth: outer.qdepth + 1,
            };
            conditions.push(self.expr(filter, Class::Bool, scope, depth));
        }
        if let Some(k) = sub.correlate {
            let pairs: Vec<(&Entry, &Entry)> = entries
                .iter()
                .flat_map(|s| {
                    outer
                        .entries
                        .iter()
                        .filter(move |o| o.class == s.class)
                        .map(move |o| (s, o))
                })
                .collect();
            if !pairs.is_empty() {
                let (s, o) = pairs[usize::from(k) % pairs.len()];
                conditions.push(format!("{} = {}", s.sql(), o.sql()));
            }
        }
        if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        }
    }

    fn func(&mut self, f: u8, a: &E, class: Class, scope: Scope<'_>, d: u32) -> String {
        let f = usize::from(f);
        match class {
            Class::Num => match f % 10 {
                0 => format!("abs({})", self.expr(a, Class::Num, scope, d)),
                1 => format!("round({})", self.expr(a, Class::Num, scope, d)),
                2 => format!("length({})", self.expr(a, Class::Str, scope, d)),
                3 => format!("char_length({})", self.expr(a, Class::Str, scope, d)),
                4 => format!("date_part('year', {})", self.expr(a, Class::Date, scope, d)),
                5 => format!(
                    "EXTRACT(MONTH FROM {})",
                    self.expr(a, Class::Date, scope, d)
                ),
                6 => format!("floor({})", self.expr(a, Class::Num, scope, d)),
                7 => format!("strpos({}, 'a')", self.expr(a, Class::Str, scope, d)),
                8 => format!("power({}, 2)", self.expr(a, Class::Num, scope, d)),
                _ => format!("ceil({})", self.expr(a, Class::Num, scope, d)),
            },
            Class::Str => {
                if f % 12 == 11 {
                    return format!("CAST({} AS VARCHAR)", self.expr(a, Class::Num, scope, d));
                }
                let a = self.expr(a, Class::Str, scope, d);
                match f % 12 {
                    0 => format!("lower({a})"),
                    1 => format!("upper({a})"),
                    2 => format!("trim({a})"),
                    3 => format!("substr({a}, 1, 3)"),
                    4 => format!("left({a}, 2)"),
                    5 => format!("replace({a}, 'a', 'b')"),
                    6 => format!("concat({a}, '-')"),
                    7 => format!("reverse({a})"),
                    8 => format!("lpad({a}, 5, '*')"),
                    9 => format!("split_part({a}, '.', 1)"),
                    _ => format!("regexp_replace({a}, '[0-9]+', '#')"),
                }
            }
            Class::Bool => match f % 4 {
                0 => format!("starts_with({}, 'a')", self.expr(a, Class::Str, scope, d)),
                1 => format!(
                    "regexp_like({}, '^[A-Z]')",
                    self.expr(a, Class::Str, scope, d)
                ),
                2 => format!("(({}) % 2 = 0)", self.expr(a, Class::Num, scope, d)),
                _ => format!("ends_with({}, 's')", self.expr(a, Class::Str, scope, d)),
            },
            Class::Date => match f % 3 {
                0 => format!(
                    "CAST(date_trunc('month', {}) AS DATE)",
                    self.expr(a, Class::Date, scope, d)
                ),
                1 => format!(
                    "({} + INTERVAL '1' YEAR)",
                    self.expr(a, Class::Date, scope, d)
                ),
                _ => format!("CAST({} AS DATE)", self.expr(a, Class::Str, scope, d)),
            },
        }
    }
}
