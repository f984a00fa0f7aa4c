//! Readable renderings of Substrait plans: rulec's compact text tree and protobuf JSON.
//!
//! The text is the functions the plan declares, per extension URN (with their compound
//! names), then a tree of relations, one per line, children indented. Expressions use `$i`
//! for input field `i` (`$i.j` for struct field `j` of it), function names from the plan's
//! extension declarations (without the signature), and types as `i64`, `string`, `struct<...>`, `list<...>`,
//! `map<..., ...>` with `?` for nullable. The rulec Unnest extension is decoded.

use crate::unnest::{UNNEST_TYPE_URL, UnnestPayload};
use datafusion_substrait::substrait::proto::aggregate_function::AggregationInvocation;
use datafusion_substrait::substrait::proto::expression::field_reference::{
    ReferenceType, RootType,
};
use datafusion_substrait::substrait::proto::expression::literal::LiteralType;
use datafusion_substrait::substrait::proto::expression::nested::NestedType;
use datafusion_substrait::substrait::proto::expression::reference_segment;
use datafusion_substrait::substrait::proto::expression::{
    Literal, RexType, subquery::SubqueryType,
};
use datafusion_substrait::substrait::proto::extensions::simple_extension_declaration::MappingType;
use datafusion_substrait::substrait::proto::fetch_rel::{CountMode, OffsetMode};
use datafusion_substrait::substrait::proto::function_argument::ArgType;
use datafusion_substrait::substrait::proto::join_rel::JoinType;
use datafusion_substrait::substrait::proto::read_rel::ReadType;
use datafusion_substrait::substrait::proto::rel::RelType;
use datafusion_substrait::substrait::proto::rel_common::EmitKind;
use datafusion_substrait::substrait::proto::set_rel::SetOp;
use datafusion_substrait::substrait::proto::sort_field::{SortDirection, SortKind};
use datafusion_substrait::substrait::proto::r#type::Kind;
use datafusion_substrait::substrait::proto::{
    Expression, FunctionArgument, Plan, Rel, RelCommon, SortField, Type, plan_rel,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The plan as rulec's compact text tree.
pub fn plan_to_text(plan: &Plan) -> String {
    // Expressions name functions without their signature; the declarations, signatures
    // included, are listed once per extension under the version.
    let functions: BTreeMap<u32, String> = plan
        .extensions
        .iter()
        .filter_map(|d| match &d.mapping_type {
            Some(MappingType::ExtensionFunction(f)) => {
                let name = f.name.split_once(':').map_or(f.name.as_str(), |(n, _)| n);
                Some((f.function_anchor, name.to_owned()))
            }
            _ => None,
        })
        .collect();
    let urns: BTreeMap<u32, &str> = plan
        .extension_urns
        .iter()
        .map(|u| (u.extension_urn_anchor, u.urn.as_str()))
        .collect();
    let mut declared: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for declaration in &plan.extensions {
        if let Some(MappingType::ExtensionFunction(f)) = &declaration.mapping_type {
            let urn = urns
                .get(&f.extension_urn_reference)
                .copied()
                .unwrap_or("(no URN)");
            declared.entry(urn).or_default().push(&f.name);
        }
    }
    let printer = Printer { functions };
    let mut out = String::new();
    if let Some(version) = &plan.version {
        let _ = writeln!(
            out,
            "substrait {}.{}.{} producer={}",
            version.major_number, version.minor_number, version.patch_number, version.producer
        );
    }
    for (urn, mut names) in declared {
        names.sort_unstable();
        let _ = writeln!(out, "extension {urn}: {}", names.join(", "));
    }
    for relation in &plan.relations {
        match &relation.rel_type {
            Some(plan_rel::RelType::Root(root)) => {
                let _ = writeln!(out, "root names=[{}]", root.names.join(", "));
                if let Some(input) = &root.input {
                    printer.rel(input, 1, &mut out);
                }
            }
            Some(plan_rel::RelType::Rel(rel)) => printer.rel(rel, 0, &mut out),
            None => out.push_str("<empty relation>\n"),
        }
    }
    out
}

/// The plan as protobuf JSON (canonical Substrait JSON).
pub fn plan_to_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("Substrait plans serialize")
}

struct Printer {
    functions: BTreeMap<u32, String>,
}

fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(", ")
}

impl Printer {
    fn line(&self, depth: usize, text: &str, common: Option<&RelCommon>, out: &mut String) {
        let emit = match common.and_then(|c| c.emit_kind.as_ref()) {
            Some(EmitKind::Emit(e)) => {
                format!(" emit=[{}]", list(&e.output_mapping, |i| format!("${i}")))
            }
            _ => String::new(),
        };
        let _ = writeln!(out, "{}{text}{emit}", "  ".repeat(depth));
    }

    #[expect(
        deprecated,
        reason = "plans from other producers may still use the deprecated fetch and grouping fields"
    )]
    fn rel(&self, rel: &Rel, depth: usize, out: &mut String) {
        let Some(rel_type) = &rel.rel_type else {
            self.line(depth, "<empty rel>", None, out);
            return;
        };
        match rel_type {
            RelType::Read(r) => {
                let table = match &r.read_type {
                    Some(ReadType::NamedTable(t)) => t.names.join("."),
                    Some(ReadType::VirtualTable(_)) => "<values>".to_owned(),
                    Some(other) => format!("<{}>", read_kind(other)),
                    None => "<unknown>".to_owned(),
                };
                let mut text = format!("read {table}");
                if let Some(schema) = &r.base_schema {
                    let types = schema
                        .r#struct
                        .as_ref()
                        .map(|s| s.types.as_slice())
                        .unwrap_or_default();
                    let mut names = schema.names.iter();
                    let mut columns = Vec::new();
                    for ty in types {
                        let name = names.next().cloned().unwrap_or_default();
                        for _ in 0..nested_names(ty) {
                            names.next();
                        }
                        columns.push(format!("{name}: {}", self.ty(ty)));
                    }
                    let _ = write!(text, " [{}]", columns.join(", "));
                }
                if let Some(mask) = r.projection.as_ref().and_then(|m| m.select.as_ref()) {
                    let _ = write!(
                        text,
                        " project=[{}]",
                        list(&mask.struct_items, |i| format!("${}", i.field))
                    );
                }
                if let Some(filter) = &r.filter {
                    let _ = write!(text, " filter={}", self.expr(filter));
                }
                if let Some(filter) = &r.best_effort_filter {
                    let _ = write!(text, " best_effort_filter={}", self.expr(filter));
                }
                self.line(depth, &text, r.common.as_ref(), out);
            }
            RelType::Project(p) => {
                self.line(
                    depth,
                    &format!("project [{}]", list(&p.expressions, |e| self.expr(e))),
                    p.common.as_ref(),
                    out,
                );
                p.input.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Filter(f) => {
                let cond = f
                    .condition
                    .as_deref()
                    .map_or_else(|| "<none>".to_owned(), |c| self.expr(c));
                self.line(depth, &format!("filter {cond}"), f.common.as_ref(), out);
                f.input.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Fetch(f) => {
                let offset = match &f.offset_mode {
                    Some(OffsetMode::Offset(n)) => n.to_string(),
                    Some(OffsetMode::OffsetExpr(e)) => self.expr(e),
                    None => "0".to_owned(),
                };
                let count = match &f.count_mode {
                    Some(CountMode::Count(n)) => n.to_string(),
                    Some(CountMode::CountExpr(e)) => self.expr(e),
                    None => "all".to_owned(),
                };
                self.line(
                    depth,
                    &format!("fetch offset={offset} count={count}"),
                    f.common.as_ref(),
                    out,
                );
                f.input.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Aggregate(a) => {
                let keys = list(&a.grouping_expressions, |e| self.expr(e));
                let groupings = list(&a.groupings, |g| {
                    if g.expression_references.is_empty() {
                        format!("[{}]", list(&g.grouping_expressions, |e| self.expr(e)))
                    } else {
                        format!("[{}]", list(&g.expression_references, |r| format!("#{r}")))
                    }
                });
                let measures = list(&a.measures, |m| {
                    let mut text = m.measure.as_ref().map_or_else(
                        || "<none>".to_owned(),
                        |f| {
                            let distinct = if f.invocation == AggregationInvocation::Distinct as i32
                            {
                                "distinct "
                            } else {
                                ""
                            };
                            let mut call = format!(
                                "{}({distinct}{})",
                                self.function(f.function_reference),
                                self.args(&f.arguments)
                            );
                            if !f.sorts.is_empty() {
                                let _ = write!(call, " order by [{}]", self.sorts(&f.sorts));
                            }
                            call
                        },
                    );
                    if let Some(filter) = &m.filter {
                        let _ = write!(text, " filter {}", self.expr(filter));
                    }
                    text
                });
                let text = if keys.is_empty() {
                    format!("aggregate groupings=[{groupings}] measures=[{measures}]")
                } else {
                    format!("aggregate keys=[{keys}] groupings=[{groupings}] measures=[{measures}]")
                };
                self.line(depth, &text, a.common.as_ref(), out);
                a.input.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Sort(s) => {
                self.line(
                    depth,
                    &format!("sort [{}]", self.sorts(&s.sorts)),
                    s.common.as_ref(),
                    out,
                );
                s.input.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Join(j) => {
                let kind = JoinType::try_from(j.r#type)
                    .map_or_else(|_| "unknown".to_owned(), |t| join_name(t).to_owned());
                let mut text = format!("join {kind}");
                if let Some(on) = &j.expression {
                    let _ = write!(text, " on={}", self.expr(on));
                }
                if let Some(post) = &j.post_join_filter {
                    let _ = write!(text, " post={}", self.expr(post));
                }
                self.line(depth, &text, j.common.as_ref(), out);
                j.left.iter().for_each(|i| self.rel(i, depth + 1, out));
                j.right.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Cross(c) => {
                self.line(depth, "cross", c.common.as_ref(), out);
                c.left.iter().for_each(|i| self.rel(i, depth + 1, out));
                c.right.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Set(s) => {
                let op = SetOp::try_from(s.op)
                    .map_or_else(|_| "unknown".to_owned(), |o| o.as_str_name().to_lowercase());
                self.line(depth, &format!("set {op}"), s.common.as_ref(), out);
                s.inputs.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::Window(w) => {
                let functions = list(&w.window_functions, |f| {
                    format!(
                        "{}({})",
                        self.function(f.function_reference),
                        self.args(&f.arguments)
                    )
                });
                let text = format!(
                    "window [{functions}] partition=[{}] order=[{}]",
                    list(&w.partition_expressions, |e| self.expr(e)),
                    self.sorts(&w.sorts)
                );
                self.line(depth, &text, w.common.as_ref(), out);
                w.input.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            RelType::ExtensionSingle(e) => {
                let text = match &e.detail {
                    Some(d) if d.type_url == UNNEST_TYPE_URL => {
                        match UnnestPayload::from_bytes(&d.value) {
                            Ok(p) => format!(
                                "extension {UNNEST_TYPE_URL} unnest=[{}] depths=[{}] nulls={}",
                                list(&p.columns, |c| format!("${c}")),
                                list(&p.recursions, |r| format!("${}:{}", r.column, r.depth)),
                                p.null_handling
                            ),
                            Err(err) => format!("extension {UNNEST_TYPE_URL} <{err}>"),
                        }
                    }
                    Some(d) => format!("extension {} ({} bytes)", d.type_url, d.value.len()),
                    None => "extension <no detail>".to_owned(),
                };
                self.line(depth, &text, e.common.as_ref(), out);
                e.input.iter().for_each(|i| self.rel(i, depth + 1, out));
            }
            other => self.line(depth, &format!("<{} relation>", rel_kind(other)), None, out),
        }
    }

    fn function(&self, anchor: u32) -> String {
        self.functions.get(&anchor).map_or_else(
            || format!("fn#{anchor}"),
            |n| n.split(':').next().unwrap_or(n).to_owned(),
        )
    }

    fn args(&self, args: &[FunctionArgument]) -> String {
        list(args, |a| match &a.arg_type {
            Some(ArgType::Value(e)) => self.expr(e),
            Some(ArgType::Type(t)) => self.ty(t),
            Some(ArgType::Enum(e)) => e.clone(),
            None => "<none>".to_owned(),
        })
    }

    fn sorts(&self, sorts: &[SortField]) -> String {
        list(sorts, |s| {
            let expr = s
                .expr
                .as_ref()
                .map_or_else(|| "<none>".to_owned(), |e| self.expr(e));
            let direction = match &s.sort_kind {
                Some(SortKind::Direction(d)) => match SortDirection::try_from(*d) {
                    Ok(SortDirection::AscNullsFirst) => "asc nulls first",
                    Ok(SortDirection::AscNullsLast) => "asc nulls last",
                    Ok(SortDirection::DescNullsFirst) => "desc nulls first",
                    Ok(SortDirection::DescNullsLast) => "desc nulls last",
                    Ok(SortDirection::Clustered) => "clustered",
                    _ => "unspecified",
                },
                Some(SortKind::ComparisonFunctionReference(_)) => "by comparison function",
                None => "unspecified",
            };
            format!("{expr} {direction}")
        })
    }

    fn expr(&self, expr: &Expression) -> String {
        let Some(rex) = &expr.rex_type else {
            return "<none>".to_owned();
        };
        match rex {
            RexType::Literal(l) => literal(l),
            RexType::Selection(f) => {
                let mut text = String::new();
                if let Some(ReferenceType::DirectReference(segment)) = &f.reference_type {
                    let mut next = Some(segment);
                    let mut first = true;
                    while let Some(seg) = next {
                        match &seg.reference_type {
                            Some(reference_segment::ReferenceType::StructField(s)) => {
                                let _ =
                                    write!(text, "{}{}", if first { "$" } else { "." }, s.field);
                                next = s.child.as_deref();
                            }
                            Some(reference_segment::ReferenceType::ListElement(l)) => {
                                let _ = write!(text, "[{}]", l.offset);
                                next = l.child.as_deref();
                            }
                            Some(reference_segment::ReferenceType::MapKey(m)) => {
                                let key = m.map_key.as_ref().map_or_else(String::new, literal);
                                let _ = write!(text, "[{key}]");
                                next = m.child.as_deref();
                            }
                            None => next = None,
                        }
                        first = false;
                    }
                } else {
                    text.push_str("<masked reference>");
                }
                match &f.root_type {
                    Some(RootType::OuterReference(o)) => format!("outer{}({text})", o.steps_out),
                    Some(RootType::Expression(e)) => format!("({}){text}", self.expr(e)),
                    _ => text,
                }
            }
            RexType::ScalarFunction(f) => format!(
                "{}({})",
                self.function(f.function_reference),
                self.args(&f.arguments)
            ),
            RexType::WindowFunction(w) => format!(
                "{}({}) over (partition by [{}] order by [{}])",
                self.function(w.function_reference),
                self.args(&w.arguments),
                list(&w.partitions, |e| self.expr(e)),
                self.sorts(&w.sorts)
            ),
            RexType::IfThen(i) => {
                let mut parts: Vec<String> = i
                    .ifs
                    .iter()
                    .map(|c| {
                        let when = c.r#if.as_ref().map_or_else(String::new, |e| self.expr(e));
                        let then = c.then.as_ref().map_or_else(String::new, |e| self.expr(e));
                        format!("when {when} then {then}")
                    })
                    .collect();
                if let Some(e) = &i.r#else {
                    parts.push(format!("else {}", self.expr(e)));
                }
                format!("case({})", parts.join(" "))
            }
            RexType::SingularOrList(s) => format!(
                "{} in [{}]",
                s.value
                    .as_deref()
                    .map_or_else(String::new, |v| self.expr(v)),
                list(&s.options, |o| self.expr(o))
            ),
            RexType::Cast(c) => format!(
                "cast({} as {})",
                c.input
                    .as_deref()
                    .map_or_else(String::new, |i| self.expr(i)),
                c.r#type.as_ref().map_or_else(String::new, |t| self.ty(t))
            ),
            RexType::Nested(n) => match &n.nested_type {
                Some(NestedType::Struct(s)) => {
                    format!("struct({})", list(&s.fields, |e| self.expr(e)))
                }
                Some(NestedType::List(l)) => format!("list[{}]", list(&l.values, |e| self.expr(e))),
                Some(NestedType::Map(m)) => format!(
                    "map{{{}}}",
                    list(&m.key_values, |kv| {
                        let k = kv.key.as_ref().map_or_else(String::new, |e| self.expr(e));
                        let v = kv.value.as_ref().map_or_else(String::new, |e| self.expr(e));
                        format!("{k}: {v}")
                    })
                ),
                None => "<nested>".to_owned(),
            },
            RexType::Subquery(s) => {
                let mut nested = String::new();
                let kind = match &s.subquery_type {
                    Some(SubqueryType::Scalar(q)) => {
                        q.input.iter().for_each(|r| self.rel(r, 1, &mut nested));
                        "scalar"
                    }
                    Some(SubqueryType::InPredicate(q)) => {
                        q.haystack.iter().for_each(|r| self.rel(r, 1, &mut nested));
                        "in"
                    }
                    Some(SubqueryType::SetPredicate(q)) => {
                        q.tuples.iter().for_each(|r| self.rel(r, 1, &mut nested));
                        "exists"
                    }
                    Some(SubqueryType::SetComparison(q)) => {
                        q.right.iter().for_each(|r| self.rel(r, 1, &mut nested));
                        "comparison"
                    }
                    None => "unknown",
                };
                format!("subquery:{kind}({})", nested.trim_end().replace('\n', "; "))
            }
            other => format!("<{}>", rex_kind(other)),
        }
    }

    fn ty(&self, ty: &Type) -> String {
        let Some(kind) = &ty.kind else {
            return "<none>".to_owned();
        };
        let (name, nullability) = match kind {
            Kind::Bool(t) => ("bool".to_owned(), t.nullability),
            Kind::I8(t) => ("i8".to_owned(), t.nullability),
            Kind::I16(t) => ("i16".to_owned(), t.nullability),
            Kind::I32(t) => ("i32".to_owned(), t.nullability),
            Kind::I64(t) => ("i64".to_owned(), t.nullability),
            Kind::Fp32(t) => ("fp32".to_owned(), t.nullability),
            Kind::Fp64(t) => ("fp64".to_owned(), t.nullability),
            Kind::String(t) => ("string".to_owned(), t.nullability),
            Kind::Binary(t) => ("binary".to_owned(), t.nullability),
            Kind::Date(t) => ("date".to_owned(), t.nullability),
            Kind::Decimal(t) => (
                format!("decimal({}, {})", t.precision, t.scale),
                t.nullability,
            ),
            Kind::PrecisionTimestamp(t) => (format!("timestamp({})", t.precision), t.nullability),
            Kind::PrecisionTimestampTz(t) => {
                (format!("timestamp_tz({})", t.precision), t.nullability)
            }
            Kind::Struct(s) => (
                format!("struct<{}>", list(&s.types, |t| self.ty(t))),
                s.nullability,
            ),
            Kind::List(l) => (
                format!(
                    "list<{}>",
                    l.r#type.as_deref().map_or_else(String::new, |t| self.ty(t))
                ),
                l.nullability,
            ),
            Kind::Map(m) => (
                format!(
                    "map<{}, {}>",
                    m.key.as_deref().map_or_else(String::new, |t| self.ty(t)),
                    m.value.as_deref().map_or_else(String::new, |t| self.ty(t))
                ),
                m.nullability,
            ),
            Kind::UserDefined(u) => (format!("user_defined#{}", u.type_reference), u.nullability),
            other => (
                format!("{other:?}")
                    .split('(')
                    .next()
                    .unwrap_or("type")
                    .to_lowercase(),
                0,
            ),
        };
        // Nullability 1 = nullable, 2 = required.
        if nullability == 1 {
            format!("{name}?")
        } else {
            name
        }
    }
}

fn nested_names(ty: &Type) -> usize {
    match &ty.kind {
        Some(Kind::Struct(s)) => s.types.iter().map(|t| 1 + nested_names(t)).sum(),
        Some(Kind::List(l)) => l.r#type.as_deref().map_or(0, nested_names),
        Some(Kind::Map(m)) => {
            m.key.as_deref().map_or(0, nested_names) + m.value.as_deref().map_or(0, nested_names)
        }
        _ => 0,
    }
}

fn literal(l: &Literal) -> String {
    match &l.literal_type {
        Some(LiteralType::Boolean(b)) => b.to_string(),
        Some(LiteralType::I8(v) | LiteralType::I16(v) | LiteralType::I32(v)) => v.to_string(),
        Some(LiteralType::I64(v)) => v.to_string(),
        Some(LiteralType::Fp32(v)) => v.to_string(),
        Some(LiteralType::Fp64(v)) => v.to_string(),
        Some(LiteralType::String(s)) => format!("'{}'", s.replace('\'', "''")),
        Some(LiteralType::Date(d)) => format!("date({d})"),
        Some(LiteralType::Null(_)) => "null".to_owned(),
        Some(LiteralType::List(l)) => format!("[{}]", list(&l.values, literal)),
        Some(LiteralType::Struct(s)) => format!("struct({})", list(&s.fields, literal)),
        Some(LiteralType::EmptyList(_)) => "[]".to_owned(),
        Some(LiteralType::Decimal(d)) => format!(
            "decimal(p={}, s={}, {} bytes)",
            d.precision,
            d.scale,
            d.value.len()
        ),
        Some(other) => format!(
            "<{} literal>",
            format!("{other:?}").split('(').next().unwrap_or("other")
        ),
        None => "<none>".to_owned(),
    }
}

fn join_name(t: JoinType) -> &'static str {
    match t {
        JoinType::Inner => "inner",
        JoinType::Outer => "full",
        JoinType::Left => "left",
        JoinType::Right => "right",
        JoinType::LeftSemi => "left_semi",
        JoinType::RightSemi => "right_semi",
        JoinType::LeftAnti => "left_anti",
        JoinType::RightAnti => "right_anti",
        JoinType::LeftSingle => "left_single",
        JoinType::RightSingle => "right_single",
        JoinType::LeftMark => "left_mark",
        JoinType::RightMark => "right_mark",
        JoinType::Unspecified => "unspecified",
    }
}

fn read_kind(t: &ReadType) -> String {
    format!("{t:?}")
        .split('(')
        .next()
        .unwrap_or("read")
        .to_lowercase()
}

fn rel_kind(t: &RelType) -> String {
    format!("{t:?}")
        .split('(')
        .next()
        .unwrap_or("rel")
        .to_lowercase()
}

fn rex_kind(t: &RexType) -> String {
    format!("{t:?}")
        .split('(')
        .next()
        .unwrap_or("expression")
        .to_lowercase()
}
