//! A generator of rule mutants for the fingerprint proofs: meaning-preserving mutations
//! (the fingerprint must not move) and meaning-changing ones (it must).
//!
//! Structural mutations edit the sqlparser AST and print it back; the text-level ones
//! (whitespace, comments, case) edit the text outside string literals, quoted identifiers
//! and comments. A mutation that does not apply to a rule returns `None`.

use crate::mutate_nested;
pub use crate::mutate_sensitive::{Sensitive, sensitive};
use rulec_syntax::sqlparser::ast::helpers::attached_token::AttachedToken;
use rulec_syntax::sqlparser::ast::{
    AccessExpr, BinaryOperator, Cte, Expr, Ident, Join, JoinConstraint, JoinOperator, ObjectName,
    ObjectNamePart, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Statement,
    TableAlias, TableFactor, TableWithJoins, Value, ValueWithSpan, VisitMut, VisitorMut, With,
};
use rulec_syntax::sqlparser::dialect::GenericDialect;
use rulec_syntax::sqlparser::parser::Parser;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

/// A meaning-preserving mutation family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    Whitespace,
    Comments,
    Case,
    AliasRenaming,
    OperandOrder,
    BetweenExpansion,
    Parentheses,
    CteToDerived,
    DerivedToCte,
    OnToWhere,
    CommaToExplicit,
    ExplicitToComma,
    FoldableConstants,
    InListOrder,
    // Nested data (`mutate_nested.rs`).
    FieldAccessSpelling,
    FlattenEarly,
    SubqueryLayering,
    LateralUnnest,
    StructAliasRenaming,
}

impl Invariant {
    pub const ALL: [Invariant; 19] = [
        Invariant::Whitespace,
        Invariant::Comments,
        Invariant::Case,
        Invariant::AliasRenaming,
        Invariant::OperandOrder,
        Invariant::BetweenExpansion,
        Invariant::Parentheses,
        Invariant::CteToDerived,
        Invariant::DerivedToCte,
        Invariant::OnToWhere,
        Invariant::CommaToExplicit,
        Invariant::ExplicitToComma,
        Invariant::FoldableConstants,
        Invariant::InListOrder,
        Invariant::FieldAccessSpelling,
        Invariant::FlattenEarly,
        Invariant::SubqueryLayering,
        Invariant::LateralUnnest,
        Invariant::StructAliasRenaming,
    ];

    fn is_textual(self) -> bool {
        matches!(
            self,
            Invariant::Whitespace | Invariant::Comments | Invariant::Case
        )
    }
}

pub(crate) fn parse(sql: &str) -> Statement {
    let mut statements = Parser::parse_sql(&GenericDialect {}, sql)
        .unwrap_or_else(|e| panic!("the generator cannot parse a rule: {e}\n{sql}"));
    assert_eq!(statements.len(), 1, "one statement per rule");
    statements.remove(0)
}

pub(crate) fn query(statement: &mut Statement) -> &mut Query {
    match statement {
        Statement::Query(q) => q,
        other => panic!("a rule is a query: {other}"),
    }
}

/// The rule's SQL after `families`, applied in order; `None` if a family does not apply.
/// A combination applies the structural families that apply, then the textual ones.
pub fn invariant(sql: &str, families: &[Invariant]) -> Option<String> {
    let mut statement = parse(sql);
    let mut applied = false;
    let mut structural = false;
    for family in families.iter().filter(|f| !f.is_textual()) {
        structural = true;
        let changed = apply_invariant(&mut statement, *family);
        if families.len() == 1 && !changed {
            return None;
        }
        applied |= changed;
    }
    let mut text = if structural {
        statement.to_string()
    } else {
        sql.to_owned()
    };
    for family in families.iter().filter(|f| f.is_textual()) {
        text = match family {
            Invariant::Whitespace => rewrite_outside_literals(&text, Edit::Whitespace),
            Invariant::Comments => rewrite_outside_literals(&text, Edit::Comments),
            Invariant::Case => rewrite_outside_literals(&text, Edit::Case),
            _ => unreachable!(),
        };
        applied = true;
    }
    applied.then_some(text)
}

fn apply_invariant(statement: &mut Statement, family: Invariant) -> bool {
    match family {
        Invariant::AliasRenaming => rename_aliases(statement),
        Invariant::OperandOrder => map_exprs(statement, swap_commutative),
        Invariant::BetweenExpansion => map_exprs(statement, expand_between),
        Invariant::Parentheses => map_exprs(statement, parenthesize),
        Invariant::CteToDerived => cte_to_derived(query(statement)),
        Invariant::DerivedToCte => derived_to_cte(query(statement)),
        Invariant::OnToWhere => with_top_select(statement, |s| joins_to_where(s, false)),
        Invariant::CommaToExplicit => with_top_select(statement, comma_to_explicit),
        Invariant::ExplicitToComma => with_top_select(statement, |s| joins_to_where(s, true)),
        Invariant::FoldableConstants => {
            let folded = map_exprs(statement, unfold_constant);
            let tautology = with_top_select(statement, |s| {
                let one_is_one = binary(number("1"), BinaryOperator::Eq, number("1"));
                s.selection = Some(match s.selection.take() {
                    Some(w) => binary(nested(w), BinaryOperator::And, one_is_one),
                    None => one_is_one,
                });
                true
            });
            folded || tautology
        }
        Invariant::InListOrder => map_exprs(statement, reorder_in_list),
        Invariant::FieldAccessSpelling => mutate_nested::field_access_spelling(statement),
        Invariant::FlattenEarly => mutate_nested::flatten_early(statement),
        Invariant::SubqueryLayering => mutate_nested::subquery_layering(statement),
        Invariant::LateralUnnest => mutate_nested::lateral_unnest(statement),
        Invariant::StructAliasRenaming => mutate_nested::struct_alias_renaming(statement),
        Invariant::Whitespace | Invariant::Comments | Invariant::Case => unreachable!(),
    }
}

// ---- helpers over the AST -------------------------------------------------------------

pub(crate) fn number(n: &str) -> Expr {
    Expr::Value(ValueWithSpan::from(Value::Number(n.to_owned(), false)))
}

pub(crate) fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}

pub(crate) fn nested(e: Expr) -> Expr {
    match e {
        Expr::Nested(_) => e,
        other => Expr::Nested(Box::new(other)),
    }
}

pub(crate) struct ExprMapper<F: FnMut(&mut Expr) -> bool> {
    pub(crate) f: F,
    pub(crate) changed: bool,
}

impl<F: FnMut(&mut Expr) -> bool> VisitorMut for ExprMapper<F> {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        self.changed |= (self.f)(expr);
        ControlFlow::Continue(())
    }
}

/// Applies `f` to every expression, bottom-up; whether any call changed something.
pub(crate) fn map_exprs(statement: &mut Statement, f: impl FnMut(&mut Expr) -> bool) -> bool {
    let mut mapper = ExprMapper { f, changed: false };
    let _ = statement.visit(&mut mapper);
    mapper.changed
}

struct FirstSelect<F: FnMut(&mut Select) -> bool> {
    f: F,
    done: bool,
}

impl<F: FnMut(&mut Select) -> bool> VisitorMut for FirstSelect<F> {
    type Break = ();
    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        if !self.done && (self.f)(select) {
            self.done = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

/// Applies `f` to each SELECT of the statement (outermost first, then CTEs and subqueries)
/// until it applies once.
pub(crate) fn first_select(statement: &mut Statement, f: impl FnMut(&mut Select) -> bool) -> bool {
    let mut visitor = FirstSelect { f, done: false };
    let _ = statement.visit(&mut visitor);
    visitor.done
}

/// Applies `f` to the top-level SELECT (the body of the rule's outermost query).
pub(crate) fn with_top_select(
    statement: &mut Statement,
    f: impl FnOnce(&mut Select) -> bool,
) -> bool {
    match query(statement).body.as_mut() {
        SetExpr::Select(select) => f(select),
        _ => false,
    }
}

fn mentions_temporal(e: &Expr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("interval") || text.contains("date") || text.contains("timestamp")
}

fn swap_commutative(expr: &mut Expr) -> bool {
    let Expr::BinaryOp { left, op, right } = expr else {
        return false;
    };
    let mirrored = match op {
        BinaryOperator::And | BinaryOperator::Or | BinaryOperator::Eq | BinaryOperator::NotEq => {
            op.clone()
        }
        // Arithmetic: numbers only (date + interval is left as written).
        BinaryOperator::Plus | BinaryOperator::Multiply
            if !mentions_temporal(left) && !mentions_temporal(right) =>
        {
            op.clone()
        }
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        _ => return false,
    };
    std::mem::swap(left, right);
    *op = mirrored;
    // sqlparser prints `a * (b * c)` without the parentheses: keep the tree's shape.
    for side in [left, right] {
        if matches!(**side, Expr::BinaryOp { .. }) {
            **side = nested((**side).clone());
        }
    }
    true
}

fn expand_between(expr: &mut Expr) -> bool {
    let Expr::Between {
        expr: e,
        negated,
        low,
        high,
    } = expr
    else {
        return false;
    };
    let (e, low, high) = (
        nested((**e).clone()),
        nested((**low).clone()),
        nested((**high).clone()),
    );
    *expr = nested(if *negated {
        binary(
            binary(e.clone(), BinaryOperator::Lt, low),
            BinaryOperator::Or,
            binary(e, BinaryOperator::Gt, high),
        )
    } else {
        binary(
            binary(e.clone(), BinaryOperator::GtEq, low),
            BinaryOperator::And,
            binary(e, BinaryOperator::LtEq, high),
        )
    });
    true
}

fn parenthesize(expr: &mut Expr) -> bool {
    let Expr::BinaryOp { left, right, .. } = expr else {
        return false;
    };
    for side in [left, right] {
        if !matches!(**side, Expr::Nested(_)) {
            **side = Expr::Nested(Box::new((**side).clone()));
        }
    }
    true
}

/// A comparison with an integer literal `n` gets `((n - 1) + 1)` instead (the planner folds
/// it back). Only comparison operands: positional `ORDER BY 1` or `LIMIT` stay literal.
fn unfold_constant(expr: &mut Expr) -> bool {
    let Expr::BinaryOp { left, op, right } = expr else {
        return false;
    };
    if !matches!(
        op,
        BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
            | BinaryOperator::Eq
            | BinaryOperator::NotEq
    ) {
        return false;
    }
    let mut changed = false;
    for side in [left, right] {
        if let Expr::Value(ValueWithSpan {
            value: Value::Number(n, _),
            ..
        }) = side.as_ref()
            && let Ok(n) = n.parse::<i64>()
            && n > 0
        {
            **side = nested(binary(
                number(&(n - 1).to_string()),
                BinaryOperator::Plus,
                number("1"),
            ));
            changed = true;
        }
    }
    changed
}

fn reorder_in_list(expr: &mut Expr) -> bool {
    let Expr::InList { list, .. } = expr else {
        return false;
    };
    if list.is_empty() {
        return false;
    }
    list.reverse();
    let first = list[0].clone();
    list.push(first);
    true
}

// ---- alias renaming --------------------------------------------------------------------

fn lower(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

#[derive(Default)]
struct AliasCollector {
    table_aliases: BTreeSet<String>,
    cte_names: BTreeSet<String>,
}

impl VisitorMut for AliasCollector {
    type Break = ();
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.cte_names.insert(lower(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } = factor
        {
            self.table_aliases.insert(lower(&alias.name));
        }
        ControlFlow::Continue(())
    }
}

struct AliasRenamer {
    /// Old name (normalized) to new name, for table aliases and CTE names alike.
    names: BTreeMap<String, String>,
    cte_names: BTreeSet<String>,
}

impl AliasRenamer {
    fn renamed(&self, ident: &mut Ident) {
        if let Some(new) = self.names.get(&lower(ident)) {
            *ident = Ident::new(new.clone());
        }
    }
}

impl VisitorMut for AliasRenamer {
    type Break = ();
    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &mut query.with {
            for cte in &mut with.cte_tables {
                self.renamed(&mut cte.alias.name);
            }
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table { name, alias, .. } => {
                if let [ObjectNamePart::Identifier(ident)] = name.0.as_mut_slice()
                    && self.cte_names.contains(&lower(ident))
                {
                    self.renamed(ident);
                }
                if let Some(alias) = alias {
                    self.renamed(&mut alias.name);
                }
            }
            TableFactor::Derived {
                alias: Some(alias), ..
            } => self.renamed(&mut alias.name),
            _ => {}
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => self.renamed(&mut parts[0]),
            // `f.edge.attrs['field']`: the qualifier is the root of a field access chain.
            Expr::CompoundFieldAccess { root, access_chain }
                if matches!(access_chain.first(), Some(AccessExpr::Dot(_))) =>
            {
                if let Expr::Identifier(ident) = root.as_mut() {
                    self.renamed(ident);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            if let SelectItem::QualifiedWildcard(
                SelectItemQualifiedWildcardKind::ObjectName(name),
                _,
            ) = item
                && let Some(ObjectNamePart::Identifier(ident)) = name.0.first_mut()
            {
                self.renamed(ident);
            }
        }
        ControlFlow::Continue(())
    }
}

/// Renames every table alias and CTE name (consistently, everywhere) to a fresh name.
fn rename_aliases(statement: &mut Statement) -> bool {
    let mut collector = AliasCollector::default();
    let _ = statement.visit(&mut collector);
    let all: BTreeSet<String> = collector
        .table_aliases
        .iter()
        .chain(&collector.cte_names)
        .cloned()
        .collect();
    if all.is_empty() {
        return false;
    }
    let names = all
        .into_iter()
        .enumerate()
        .map(|(i, old)| (old, format!("renamed_{i}")))
        .collect();
    let mut renamer = AliasRenamer {
        names,
        cte_names: collector.cte_names,
    };
    let _ = statement.visit(&mut renamer);
    true
}

// ---- CTEs and derived tables ----------------------------------------------------------

struct TableCounter<'a> {
    name: &'a str,
    count: usize,
}

impl VisitorMut for TableCounter<'_> {
    type Break = ();
    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, .. } = factor
            && let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
            && lower(ident) == self.name
        {
            self.count += 1;
        }
        ControlFlow::Continue(())
    }
}

struct Inliner<'a> {
    cte: &'a Cte,
    name: String,
}

impl VisitorMut for Inliner<'_> {
    type Break = ();
    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = factor
            && let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
            && lower(ident) == self.name
        {
            let mut alias = alias.clone().unwrap_or(TableAlias {
                explicit: true,
                name: self.cte.alias.name.clone(),
                columns: Vec::new(),
                at: None,
            });
            if alias.columns.is_empty() {
                alias.columns = self.cte.alias.columns.clone();
            }
            *factor = TableFactor::Derived {
                lateral: false,
                subquery: self.cte.query.clone(),
                alias: Some(alias),
                sample: None,
            };
        }
        ControlFlow::Continue(())
    }
}

/// Inlines every CTE of the outermost query that is read exactly once as a derived table.
fn cte_to_derived(query: &mut Query) -> bool {
    let Some(with) = query.with.take() else {
        return false;
    };
    if with.recursive {
        query.with = Some(with);
        return false;
    }
    let mut ctes = with.cte_tables;
    let reads = |name: &str, query: &mut Query, ctes: &mut [Cte]| {
        let mut counter = TableCounter { name, count: 0 };
        let _ = query.visit(&mut counter);
        for cte in ctes.iter_mut() {
            let _ = cte.query.visit(&mut counter);
        }
        counter.count
    };
    let names: Vec<String> = ctes.iter().map(|c| lower(&c.alias.name)).collect();
    let once: Vec<bool> = names
        .iter()
        .map(|name| reads(name, query, &mut ctes) == 1)
        .collect();
    type Flagged = Vec<(Cte, bool)>;
    let (inlined, mut kept): (Flagged, Flagged) =
        ctes.into_iter().zip(once).partition(|(_, once)| *once);
    // A CTE reads only earlier ones: inlining the later ones first carries their reads of
    // earlier CTEs into the body, where the next round finds them.
    for (cte, _) in inlined.iter().rev() {
        let mut inliner = Inliner {
            cte,
            name: lower(&cte.alias.name),
        };
        let _ = query.visit(&mut inliner);
        for (other, _) in kept.iter_mut() {
            let _ = other.query.visit(&mut inliner);
        }
    }
    let kept: Vec<Cte> = kept.into_iter().map(|(c, _)| c).collect();
    query.with = (!kept.is_empty()).then_some(With {
        with_token: with.with_token,
        recursive: false,
        cte_tables: kept,
    });
    !inlined.is_empty()
}

/// Hoists every aliased, non-lateral derived table of the outermost SELECT's FROM into a
/// CTE of the outermost query.
fn derived_to_cte(query: &mut Query) -> bool {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let mut hoisted: Vec<Cte> = Vec::new();
    let existing: BTreeSet<String> = query
        .with
        .iter()
        .flat_map(|w| w.cte_tables.iter().map(|c| lower(&c.alias.name)))
        .collect();
    let mut hoist = |factor: &mut TableFactor| {
        if let TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            ..
        } = factor
        {
            let mut name = format!("hoisted_{}", hoisted.len());
            while existing.contains(&name) {
                name.push('_');
            }
            hoisted.push(Cte {
                alias: TableAlias {
                    explicit: false,
                    name: Ident::new(name.clone()),
                    columns: alias.columns.clone(),
                    at: None,
                },
                query: subquery.clone(),
                from: None,
                materialized: None,
                closing_paren_token: AttachedToken::empty(),
            });
            *factor = TableFactor::Table {
                name: ObjectName::from(vec![Ident::new(name)]),
                alias: Some(TableAlias {
                    explicit: true,
                    name: alias.name.clone(),
                    columns: Vec::new(),
                    at: None,
                }),
                args: None,
                with_hints: Vec::new(),
                version: None,
                partitions: Vec::new(),
                with_ordinality: false,
                json_path: None,
                sample: None,
                index_hints: Vec::new(),
            };
        }
    };
    for item in &mut select.from {
        hoist(&mut item.relation);
        for join in &mut item.joins {
            hoist(&mut join.relation);
        }
    }
    if hoisted.is_empty() {
        return false;
    }
    match &mut query.with {
        Some(with) => with.cte_tables.extend(hoisted),
        None => {
            query.with = Some(With {
                with_token: AttachedToken::empty(),
                recursive: false,
                cte_tables: hoisted,
            })
        }
    }
    true
}

// ---- joins -----------------------------------------------------------------------------

fn inner_condition(join: &Join) -> Option<Option<&Expr>> {
    match &join.join_operator {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => match c {
            JoinConstraint::On(e) => Some(Some(e)),
            JoinConstraint::None => Some(None),
            _ => None,
        },
        JoinOperator::CrossJoin(JoinConstraint::None) => Some(None),
        _ => None,
    }
}

fn all_inner(select: &Select) -> bool {
    select
        .from
        .iter()
        .all(|t| t.joins.iter().all(|j| inner_condition(j).is_some()))
}

fn and_into_where(select: &mut Select, conditions: Vec<Expr>) {
    for c in conditions {
        select.selection = Some(match select.selection.take() {
            Some(w) => binary(nested(w), BinaryOperator::And, nested(c)),
            None => c,
        });
    }
}

/// Moves inner-join ON conditions into WHERE: `JOIN b ON p` becomes `CROSS JOIN b … WHERE p`
/// or, with `to_comma`, `FROM a, b WHERE p`. Only when every join of the SELECT is inner.
fn joins_to_where(select: &mut Select, to_comma: bool) -> bool {
    let has_on = select.from.iter().any(|t| {
        t.joins
            .iter()
            .any(|j| matches!(inner_condition(j), Some(Some(_))))
    });
    if !all_inner(select) || !has_on {
        return false;
    }
    let mut conditions = Vec::new();
    let mut from: Vec<TableWithJoins> = Vec::new();
    for table in std::mem::take(&mut select.from) {
        let mut first = TableWithJoins {
            relation: table.relation,
            joins: Vec::new(),
        };
        let mut listed = Vec::new();
        for join in table.joins {
            if let Some(Some(c)) = inner_condition(&join) {
                conditions.push(c.clone());
            }
            if to_comma {
                listed.push(TableWithJoins {
                    relation: join.relation,
                    joins: Vec::new(),
                });
            } else {
                first.joins.push(Join {
                    relation: join.relation,
                    global: false,
                    join_operator: JoinOperator::CrossJoin(JoinConstraint::None),
                });
            }
        }
        from.push(first);
        from.extend(listed);
    }
    select.from = from;
    and_into_where(select, conditions);
    true
}

/// `FROM a, b` becomes `FROM a CROSS JOIN b` (only when every join is inner).
fn comma_to_explicit(select: &mut Select) -> bool {
    if select.from.len() < 2 || !all_inner(select) {
        return false;
    }
    let mut items = std::mem::take(&mut select.from).into_iter();
    let mut first = items.next().expect("two items");
    for item in items {
        first.joins.push(Join {
            relation: item.relation,
            global: false,
            join_operator: JoinOperator::CrossJoin(JoinConstraint::None),
        });
        first.joins.extend(item.joins);
    }
    select.from = vec![first];
    true
}

// ---- text-level mutations ----------------------------------------------------------------

#[derive(Clone, Copy)]
enum Edit {
    /// Every whitespace run becomes a different one (newline, tabs, doubled spaces).
    Whitespace,
    /// Every third whitespace run gets a block comment; line ends get a line comment.
    Comments,
    /// Keywords and unquoted identifiers switch to upper case.
    Case,
}

/// Applies `edit` to the text outside string literals, quoted identifiers and comments.
fn rewrite_outside_literals(sql: &str, edit: Edit) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len() * 2);
    let mut i = 0;
    let mut runs = 0;
    while i < chars.len() {
        let c = chars[i];
        // String literals ('' escapes) and quoted identifiers are copied verbatim.
        if c == '\'' || c == '"' {
            let quote = c;
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == quote {
                    if i + 1 < chars.len() && chars[i + 1] == quote {
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(chars[i]);
                i += 1;
            }
            out.push_str("*/");
            i += 2;
            continue;
        }
        if c.is_whitespace() {
            let start = i;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            runs += 1;
            match edit {
                // A newline stays a newline: it may end a line comment.
                Edit::Whitespace if run.contains('\n') => out.push_str("\n\t  "),
                Edit::Whitespace => out.push_str(if runs % 2 == 0 { "\t" } else { "   " }),
                Edit::Comments if run.contains('\n') => out.push_str(" -- a line comment\n"),
                Edit::Comments if runs % 3 == 0 => out.push_str(" /* a comment */ "),
                _ => out.push_str(&run),
            }
            continue;
        }
        match edit {
            Edit::Case => out.extend(c.to_uppercase()),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}
