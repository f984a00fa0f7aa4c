//! Lateral unnest, as PostgreSQL, DuckDB, Trino and Spark users write it, rewritten into the
//! form DataFusion 55.2 plans.
//!
//! `FROM t CROSS JOIN unnest(t.list) AS u(x)` (also `, unnest(…)`, `JOIN unnest(…) ON TRUE`,
//! `CROSS JOIN LATERAL unnest(…)`, `CROSS JOIN LATERAL (SELECT unnest(t.list) AS x) AS u`
//! and Spark's `LATERAL VIEW explode(t.list) u AS x`) pairs every row of `t` with each
//! element of its own list. DataFusion cannot plan the lateral reference; it plans the same
//! thing written as an unnest in the select list of a derived table. So the table the list
//! belongs to is wrapped, under its own name:
//!
//! ```sql
//! FROM (SELECT t.*, unnest(t.list) AS x FROM t) AS t
//! ```
//!
//! and references to the unnest's alias are rewritten to that name (`u.x` → `t.x`; with
//! an alias and no column list, the alias names the element: `u.kind` → `t.u.kind`).
//! Several lists in one unnest (`unnest(a, b) AS u(x, y)`) are zipped, as the engines
//! above zip them. A second unnest over the first one's output wraps again (a two-level
//! unnest is two nested derived tables). Expressions keep their source spans.
//!
//! `WITH ORDINALITY` (numbers from 1), `WITH OFFSET` and Spark's `posexplode` (from 0) add
//! the element numbers as one more unnest of the same select; `LEFT JOIN unnest(…) ON TRUE`,
//! `OUTER APPLY` and `LATERAL VIEW OUTER` keep a row with a NULL element for a NULL or empty
//! list (see [`crate::unnest_forms`]).
//!
//! What cannot be written this way is an error with a span and a suggestion: a join
//! condition other than TRUE, a list of a table on the NULL-padded side of an outer join, a
//! list whose table cannot be told (several tables, no qualifier), a `LATERAL VIEW` of
//! anything but `explode`/`posexplode` of a list.

use crate::normalize_ident;
use crate::to_span;
use rulec_diagnostics::{Diagnostic, codes};
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Join, JoinConstraint,
    JoinOperator, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr, Spanned as _,
    Statement, TableAlias, TableFactor, TableWithJoins, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// Rewrites every lateral unnest of `statement` (see the module documentation); the
/// diagnostics say what could not be rewritten.
pub(crate) fn rewrite_lateral_unnest(statement: &mut Statement) -> Vec<Diagnostic> {
    let mut rewriter = Rewriter::default();
    let _ = statement.visit(&mut rewriter);
    rewriter.diagnostics
}

#[derive(Default)]
struct Rewriter {
    diagnostics: Vec<Diagnostic>,
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let renames = rewrite_body(&mut query.body, &mut self.diagnostics);
        if !renames.is_empty()
            && let Some(order_by) = &mut query.order_by
        {
            let mut renamer = Renamer { renames: &renames };
            let _ = order_by.visit(&mut renamer);
        }
        ControlFlow::Continue(())
    }
}

fn rewrite_body(body: &mut SetExpr, diagnostics: &mut Vec<Diagnostic>) -> Vec<Rename> {
    match body {
        SetExpr::Select(select) => rewrite_select(select, diagnostics),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_body(left, diagnostics);
            rewrite_body(right, diagnostics);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// An unnest alias and what references to it become.
struct Rename {
    /// The unnest's alias (normalized).
    alias: String,
    /// The name of the wrapped table.
    target: Ident,
    /// Whether the alias names the element itself (`AS u`, no column list).
    alias_is_element: bool,
}

/// Where a lateral unnest sits in a FROM clause.
#[derive(Clone, Copy)]
enum Position {
    /// `from[item]` as a whole (the comma form).
    Item(usize),
    /// `from[item].joins[join]`.
    Join(usize, usize),
}

/// An unnest in a FROM clause, read from either spelling.
struct UnnestFactor {
    alias: Option<TableAlias>,
    lists: Vec<Expr>,
    ordinality: Option<Ordinality>,
}

/// The element numbers an unnest adds: `WITH ORDINALITY` (from 1, named by the alias's last
/// column) or `WITH OFFSET` (from 0, named by its own alias, `offset` by default).
#[derive(Clone)]
struct Ordinality {
    base: i64,
    column: Option<Ident>,
}

impl Ordinality {
    fn of(with_ordinality: bool) -> Option<Ordinality> {
        with_ordinality.then_some(Ordinality {
            base: 1,
            column: None,
        })
    }
}

fn unnest_factor(factor: &TableFactor) -> Option<UnnestFactor> {
    match factor {
        TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset,
            with_offset_alias,
            with_ordinality,
        } => Some(UnnestFactor {
            alias: alias.clone(),
            lists: array_exprs.clone(),
            ordinality: if *with_offset {
                Some(Ordinality {
                    base: 0,
                    column: Some(
                        with_offset_alias
                            .clone()
                            .unwrap_or_else(|| Ident::new("offset")),
                    ),
                })
            } else {
                Ordinality::of(*with_ordinality)
            },
        }),
        TableFactor::Function {
            name,
            args,
            alias,
            with_ordinality,
            ..
        } if is_unnest_name(name) => Some(UnnestFactor {
            alias: alias.clone(),
            lists: args
                .iter()
                .filter_map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect(),
            ordinality: Ordinality::of(*with_ordinality),
        }),
        // DuckDB's parser reads `unnest(…)` in FROM as a table-valued function.
        TableFactor::Table {
            name,
            args: Some(args),
            alias,
            with_ordinality,
            ..
        } if is_unnest_name(name) && args.settings.is_none() => Some(UnnestFactor {
            alias: alias.clone(),
            lists: args
                .args
                .iter()
                .filter_map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect(),
            ordinality: Ordinality::of(*with_ordinality),
        }),
        TableFactor::Derived {
            lateral: true,
            subquery,
            alias,
            ..
        } => lateral_select_of_unnests(subquery, alias.as_ref()),
        _ => None,
    }
}

/// `LATERAL (SELECT unnest(t.a) AS x, unnest(t.b) AS y) AS u`: an unnest written as a
/// lateral subquery with nothing but unnests in its select list and no FROM.
fn lateral_select_of_unnests(subquery: &Query, alias: Option<&TableAlias>) -> Option<UnnestFactor> {
    let SetExpr::Select(select) = subquery.body.as_ref() else {
        return None;
    };
    let plain = select.from.is_empty()
        && select.selection.is_none()
        && select.having.is_none()
        && select.distinct.is_none()
        && subquery.with.is_none()
        && subquery.order_by.is_none()
        && subquery.limit_clause.is_none()
        && matches!(&select.group_by, sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty());
    if !plain {
        return None;
    }
    let mut lists = Vec::new();
    let mut names = Vec::new();
    for item in &select.projection {
        let SelectItem::ExprWithAlias {
            expr: Expr::Function(function),
            alias: name,
        } = item
        else {
            return None;
        };
        if !is_unnest_name(&function.name) {
            return None;
        }
        let FunctionArguments::List(args) = &function.args else {
            return None;
        };
        let [FunctionArg::Unnamed(FunctionArgExpr::Expr(list))] = args.args.as_slice() else {
            return None;
        };
        lists.push(list.clone());
        names.push(name.clone());
    }
    let mut alias = alias.cloned().unwrap_or(TableAlias {
        explicit: false,
        name: Ident::new(""),
        columns: Vec::new(),
        at: None,
    });
    if alias.columns.is_empty() {
        alias.columns = names
            .into_iter()
            .map(|name| sqlparser::ast::TableAliasColumnDef {
                name,
                data_type: None,
            })
            .collect();
    }
    Some(UnnestFactor {
        alias: Some(alias),
        lists,
        ordinality: None,
    })
}

fn is_unnest_name(name: &ObjectName) -> bool {
    matches!(name.0.as_slice(), [ObjectNamePart::Identifier(i)] if i.value.eq_ignore_ascii_case("unnest"))
}

/// The first lateral unnest of the FROM clause: one that follows another relation.
fn find_unnest(select: &Select) -> Option<Position> {
    for (i, item) in select.from.iter().enumerate() {
        if i > 0 && unnest_factor(&item.relation).is_some() {
            return Some(Position::Item(i));
        }
        for (j, join) in item.joins.iter().enumerate() {
            if unnest_factor(&join.relation).is_some() {
                return Some(Position::Join(i, j));
            }
        }
    }
    None
}

fn rewrite_select(select: &mut Select, diagnostics: &mut Vec<Diagnostic>) -> Vec<Rename> {
    let mut renames: Vec<Rename> = Vec::new();
    if let Err(diagnostic) = lateral_views_as_joins(select) {
        diagnostics.push(*diagnostic);
        return renames;
    }
    while let Some(position) = find_unnest(select) {
        match rewrite_one(select, position) {
            Ok(rename) => {
                rename_in_select(select, std::slice::from_ref(&rename));
                renames.push(rename);
            }
            Err(diagnostic) => {
                diagnostics.push(*diagnostic);
                break;
            }
        }
    }
    renames
}

fn unsupported(factor: &TableFactor, message: String, help: &str) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(codes::UNSUPPORTED_SQL, message)
            .at_opt(to_span(factor.span()))
            .with_help(help),
    )
}

const HOW_TO_WRITE: &str = "write the unnest in the select list of a derived table: \
    `FROM (SELECT t.*, unnest(t.list) AS x FROM t) AS t`";

fn rewrite_one(select: &mut Select, position: Position) -> Result<Rename, Box<Diagnostic>> {
    let (factor, operator) = match position {
        Position::Item(i) => {
            let item = &select.from[i];
            if !item.joins.is_empty() {
                return Err(unsupported(
                    &item.relation,
                    "an unnest joined to further tables is not supported here".to_owned(),
                    "list the unnest after the tables it reads and join the others before it",
                ));
            }
            (&item.relation, None)
        }
        Position::Join(i, j) => {
            let join = &select.from[i].joins[j];
            (&join.relation, Some(&join.join_operator))
        }
    };
    let unnest = unnest_factor(factor).expect("found as an unnest");
    let keeps_empty = match operator {
        Some(operator) => check_operator(factor, operator)?,
        None => false,
    };
    if unnest.lists.is_empty() {
        return Err(unsupported(
            factor,
            "an unnest needs a list to unnest".to_owned(),
            HOW_TO_WRITE,
        ));
    }
    let mut columns: Vec<Ident> = match &unnest.alias {
        Some(alias) if !alias.columns.is_empty() => {
            alias.columns.iter().map(|c| c.name.clone()).collect()
        }
        Some(alias) => vec![alias.name.clone()],
        None => vec![Ident::new("unnest")],
    };
    // The ordinality column, if any: its name and first number.
    let numbered = match &unnest.ordinality {
        None => None,
        Some(Ordinality {
            base,
            column: Some(column),
        }) => Some((*base, column.clone())),
        Some(Ordinality { base, column: None }) => {
            let named = unnest.alias.as_ref().is_some_and(|a| !a.columns.is_empty());
            if !named || columns.len() != unnest.lists.len() + 1 {
                return Err(unsupported(
                    factor,
                    "an unnest `WITH ORDINALITY` needs a name for each list and one for the \
                     ordinality"
                        .to_owned(),
                    "name the columns: `unnest(t.list) WITH ORDINALITY AS u(x, n)`",
                ));
            }
            let column = columns.pop().expect("checked above");
            Some((*base, column))
        }
    };
    if columns.len() != unnest.lists.len() {
        return Err(unsupported(
            factor,
            format!(
                "the unnest of {} list(s) names {} column(s); rulec needs one name per list",
                unnest.lists.len(),
                columns.len()
            ),
            "name one column per list, `unnest(a, b) AS u(x, y)`, and read struct fields \
             from it (`u.x.field`)",
        ));
    }
    let target = target_relation(select, position, &unnest.lists).map_err(|message| {
        unsupported(
            factor,
            message,
            "qualify the list with its table: `unnest(t.list)`",
        )
    })?;
    check_not_null_padded(select, position, target).map_err(|message| {
        unsupported(
            factor,
            message,
            "unnest the list inside a derived table before the outer join",
        )
    })?;
    let alias_is_element = unnest.alias.as_ref().is_some_and(|a| a.columns.is_empty());
    let unnest_alias = unnest.alias.as_ref().map(|a| normalize_ident(&a.name));
    if let Some(alias) = unnest_alias.as_deref().filter(|a| !a.is_empty())
        && relations_before(select, position)
            .iter()
            .any(|(_, name)| name == alias)
    {
        return Err(unsupported(
            factor,
            format!("the unnest's alias `{alias}` is also the name of a table before it"),
            "give the unnest a name of its own: `unnest(t.list) AS u(x)`",
        ));
    }
    // Remove the unnest, then wrap its table.
    match position {
        Position::Item(i) => {
            select.from.remove(i);
        }
        Position::Join(i, j) => {
            select.from[i].joins.remove(j);
        }
    }
    let relation = relation_mut(select, target);
    let name = relation_name(relation).expect("a target has a name");
    *relation = wrap(
        relation.clone(),
        &name,
        &unnest.lists,
        &columns,
        numbered.as_ref(),
        keeps_empty,
    );
    Ok(Rename {
        alias: unnest_alias.unwrap_or_default(),
        target: name,
        alias_is_element,
    })
}

/// Spark's `LATERAL VIEW [OUTER] explode(l) v AS x` and `posexplode(l) v AS pos, x` as the
/// joins they mean: `[LEFT] JOIN UNNEST(l) [WITH OFFSET AS pos] AS v(x) ON TRUE`, after the
/// FROM clause's last table (`_outer` function names are `OUTER`). Unnamed columns are
/// Spark's `col` and `pos`.
fn lateral_views_as_joins(select: &mut Select) -> Result<(), Box<Diagnostic>> {
    let views = std::mem::take(&mut select.lateral_views);
    for view in views {
        let refuse = |message: String, help: &str| {
            Box::new(
                Diagnostic::error(codes::UNSUPPORTED_SQL, message)
                    .at_opt(to_span(view.lateral_view.span()))
                    .with_help(help),
            )
        };
        let function = match &view.lateral_view {
            Expr::Function(function) if function.name.0.len() == 1 => function,
            other => {
                return Err(refuse(
                    format!("`LATERAL VIEW {other}` is not supported"),
                    "write `LATERAL VIEW explode(t.list) v AS x` or `posexplode`",
                ));
            }
        };
        let name = function.name.to_string().to_ascii_lowercase();
        let (numbered, outer) = match name.as_str() {
            "explode" => (false, view.outer),
            "explode_outer" => (false, true),
            "posexplode" => (true, view.outer),
            "posexplode_outer" => (true, true),
            _ => {
                return Err(refuse(
                    format!("`LATERAL VIEW {name}(…)` is not supported"),
                    "write `LATERAL VIEW explode(t.list) v AS x` or `posexplode`",
                ));
            }
        };
        let list = match &function.args {
            FunctionArguments::List(args) => match args.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(list))] => list.clone(),
                _ => return Err(refuse(format!("`{name}` takes one list"), HOW_TO_WRITE)),
            },
            _ => return Err(refuse(format!("`{name}` takes one list"), HOW_TO_WRITE)),
        };
        let mut columns = view.lateral_col_alias.clone();
        let wanted = if numbered { 2 } else { 1 };
        if columns.is_empty() {
            columns = if numbered {
                vec![Ident::new("pos"), Ident::new("col")]
            } else {
                vec![Ident::new("col")]
            };
        }
        if columns.len() != wanted {
            return Err(refuse(
                format!(
                    "`LATERAL VIEW {name}` names {} column(s), not {wanted}: rulec unnests lists, \
                     not maps (whose explode gives a key and a value)",
                    columns.len()
                ),
                "name one column for `explode` of a list, two (position, element) for \
                 `posexplode`; for a map, explode `map_entries(m)` and read `e.key`, `e.value`",
            ));
        }
        let offset = numbered.then(|| columns.remove(0));
        let Some(last) = view.lateral_view_name.0.last() else {
            return Err(refuse(
                "a LATERAL VIEW needs a name".to_owned(),
                HOW_TO_WRITE,
            ));
        };
        let alias = match last {
            ObjectNamePart::Identifier(ident) => ident.clone(),
            ObjectNamePart::Function(f) => f.name.clone(),
        };
        let relation = TableFactor::UNNEST {
            alias: Some(TableAlias {
                explicit: true,
                name: alias,
                columns: columns
                    .into_iter()
                    .map(|name| sqlparser::ast::TableAliasColumnDef {
                        name,
                        data_type: None,
                    })
                    .collect(),
                at: None,
            }),
            array_exprs: vec![list],
            with_offset: offset.is_some(),
            with_offset_alias: offset,
            with_ordinality: false,
        };
        let on_true = JoinConstraint::On(Expr::Value(Value::Boolean(true).into()));
        let join_operator = if outer {
            JoinOperator::LeftOuter(on_true)
        } else {
            JoinOperator::CrossJoin(JoinConstraint::None)
        };
        let Some(from) = select.from.last_mut() else {
            return Err(refuse(
                "a LATERAL VIEW needs a table to follow".to_owned(),
                HOW_TO_WRITE,
            ));
        };
        from.joins.push(Join {
            relation,
            global: false,
            join_operator,
        });
    }
    Ok(())
}

/// Accepts the join operators that mean "each row with each of its elements": true for
/// those that also keep a row (with a NULL element) for a NULL or empty list.
fn check_operator(factor: &TableFactor, operator: &JoinOperator) -> Result<bool, Box<Diagnostic>> {
    let on_true = |c: &JoinConstraint| match c {
        JoinConstraint::None => true,
        JoinConstraint::On(Expr::Value(v)) => matches!(v.value, Value::Boolean(true)),
        _ => false,
    };
    match operator {
        JoinOperator::CrossJoin(c) | JoinOperator::Join(c) | JoinOperator::Inner(c)
            if on_true(c) =>
        {
            Ok(false)
        }
        JoinOperator::CrossApply => Ok(false),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) if on_true(c) => Ok(true),
        JoinOperator::OuterApply => Ok(true),
        _ => Err(unsupported(
            factor,
            "an unnest can only be joined on TRUE (`CROSS JOIN unnest(…)`, `, unnest(…)`, \
             `JOIN unnest(…) ON TRUE` or `LEFT JOIN unnest(…) ON TRUE`)"
                .to_owned(),
            "filter the unnested rows in WHERE instead of a join condition",
        )),
    }
}

/// Where a relation of the FROM clause sits: `from[item]`'s first relation, or its join.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Relation(usize),
    Joined(usize, usize),
}

/// The relations before `position`, with their names.
fn relations_before(select: &Select, position: Position) -> Vec<(Target, String)> {
    let (last_item, last_join) = match position {
        Position::Item(i) => (i, None),
        Position::Join(i, j) => (i, Some(j)),
    };
    let mut out = Vec::new();
    for (i, item) in select.from.iter().enumerate().take(last_item + 1) {
        if i == last_item && last_join.is_none() {
            break;
        }
        if let Some(name) = relation_name(&item.relation) {
            out.push((Target::Relation(i), normalize_ident(&name)));
        }
        for (j, join) in item.joins.iter().enumerate() {
            if i == last_item && Some(j) == last_join {
                break;
            }
            if let Some(name) = relation_name(&join.relation) {
                out.push((Target::Joined(i, j), normalize_ident(&name)));
            }
        }
    }
    out
}

/// The relation whose row the lists belong to: the one their qualifiers name, or the only
/// relation before the unnest.
fn target_relation(select: &Select, position: Position, lists: &[Expr]) -> Result<Target, String> {
    let before = relations_before(select, position);
    let mut qualifiers: Vec<String> = Vec::new();
    for list in lists {
        let mut collector = Qualifiers::default();
        let mut list = list.clone();
        let _ = list.visit(&mut collector);
        qualifiers.extend(collector.names);
    }
    let mut named: Vec<Target> = before
        .iter()
        .filter(|(_, name)| qualifiers.contains(name))
        .map(|(t, _)| *t)
        .collect();
    named.dedup();
    match (named.as_slice(), before.as_slice()) {
        ([one], _) => Ok(*one),
        ([], [(only, _)]) => Ok(*only),
        ([], []) => Err("the unnest reads no table before it".to_owned()),
        ([], _) => Err(
            "the unnest's list does not say which table it belongs to (no qualifier)".to_owned(),
        ),
        _ => Err(
            "the unnest's lists belong to several tables; unnest one table's lists at a time"
                .to_owned(),
        ),
    }
}

/// Refuses a target on the NULL-padded side of an outer join before the unnest: wrapping
/// it would keep rows that the unnest of a NULL list drops.
fn check_not_null_padded(
    select: &Select,
    position: Position,
    target: Target,
) -> Result<(), String> {
    let (item, first_join) = match target {
        Target::Relation(i) => (i, 0),
        Target::Joined(i, j) => {
            let operator = &select.from[i].joins[j].join_operator;
            if matches!(
                operator,
                JoinOperator::Left(_) | JoinOperator::LeftOuter(_) | JoinOperator::FullOuter(_)
            ) {
                return Err(
                    "the unnest's list belongs to the NULL-padded side of an outer join".to_owned(),
                );
            }
            (i, j + 1)
        }
    };
    let end = match position {
        Position::Join(i, j) if i == item => j,
        _ => select.from[item].joins.len(),
    };
    let later = select.from[item].joins.iter().take(end).skip(first_join);
    for join in later {
        if matches!(
            join.join_operator,
            JoinOperator::Right(_) | JoinOperator::RightOuter(_) | JoinOperator::FullOuter(_)
        ) {
            return Err(
                "the unnest's list belongs to the NULL-padded side of an outer join".to_owned(),
            );
        }
    }
    Ok(())
}

fn relation_mut(select: &mut Select, target: Target) -> &mut TableFactor {
    match target {
        Target::Relation(i) => &mut select.from[i].relation,
        Target::Joined(i, j) => &mut select.from[i].joins[j].relation,
    }
}

/// The name a relation's columns are qualified with: its alias, or a table's own name.
fn relation_name(factor: &TableFactor) -> Option<Ident> {
    match factor {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            Some(a.name.clone())
        }
        TableFactor::Table { name, .. } => match name.0.last() {
            Some(ObjectNamePart::Identifier(ident)) => Some(ident.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// `(SELECT name.*, unnest(l1) AS c1, … FROM relation) AS name`; with element numbers from
/// `base` named `n`, also `unnest(range(base, CAST(array_length(l1) AS BIGINT) + base)) AS
/// n`, which DataFusion zips with the elements as it zips several unnests of one select
/// (with several lists, the longest one's length: `greatest(array_length(l1), …)`).
fn wrap(
    relation: TableFactor,
    name: &Ident,
    lists: &[Expr],
    columns: &[Ident],
    numbered: Option<&(i64, Ident)>,
    keeps_empty: bool,
) -> TableFactor {
    let template = "SELECT q.*, unnest(NULL) AS c FROM q";
    let mut statements =
        Parser::parse_sql(&GenericDialect {}, template).expect("the template parses");
    let Some(Statement::Query(mut query)) = statements.pop() else {
        unreachable!("the template is a query")
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        unreachable!("the template is a select")
    };
    let [
        SelectItem::QualifiedWildcard(_, options),
        SelectItem::ExprWithAlias { expr, .. },
    ] = select.projection.as_slice()
    else {
        unreachable!("the template's select list")
    };
    let star = SelectItem::QualifiedWildcard(
        sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(ObjectName::from(vec![
            name.clone(),
        ])),
        options.clone(),
    );
    let unnest_call = expr.clone();
    let mut projection = vec![star];
    for (list, column) in lists.iter().zip(columns) {
        let mut call = unnest_call.clone();
        if let Expr::Function(function) = &mut call
            && let FunctionArguments::List(args) = &mut function.args
        {
            let list = if keeps_empty {
                crate::unnest_forms::nonempty_or_null(list.clone())
            } else {
                list.clone()
            };
            args.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(list))];
        }
        projection.push(SelectItem::ExprWithAlias {
            expr: call,
            alias: column.clone(),
        });
    }
    if let Some((base, column)) = numbered {
        projection.push(SelectItem::ExprWithAlias {
            expr: crate::unnest_forms::element_numbers(lists, *base),
            alias: column.clone(),
        });
    }
    select.projection = projection;
    select.from = vec![TableWithJoins {
        relation,
        joins: Vec::<Join>::new(),
    }];
    TableFactor::Derived {
        lateral: false,
        subquery: query,
        alias: Some(TableAlias {
            explicit: true,
            name: name.clone(),
            columns: Vec::new(),
            at: None,
        }),
        sample: None,
    }
}

/// The first parts of qualified column references (`t` of `t.list` and `t.s.list`).
#[derive(Default)]
struct Qualifiers {
    names: Vec<String>,
}

impl VisitorMut for Qualifiers {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                self.names.push(normalize_ident(&parts[0]));
            }
            Expr::CompoundFieldAccess { root, .. } => {
                if let Expr::Identifier(ident) = root.as_ref() {
                    self.names.push(normalize_ident(ident));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites references to unnest aliases everywhere in a SELECT (its FROM included: a later
/// unnest may read an earlier one's column).
fn rename_in_select(select: &mut Select, renames: &[Rename]) {
    let mut renamer = Renamer { renames };
    let _ = select.visit(&mut renamer);
    // `u.*` in the select list: the unnest's columns.
    for item in &mut select.projection {
        if let SelectItem::QualifiedWildcard(
            sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(name),
            _,
        ) = item
            && let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
            && let Some(rename) = renames
                .iter()
                .find(|r| !r.alias.is_empty() && r.alias == normalize_ident(ident))
            && rename.alias_is_element
        {
            *item = SelectItem::UnnamedExpr(Expr::CompoundIdentifier(vec![
                rename.target.clone(),
                ident.clone(),
            ]));
        }
    }
}

struct Renamer<'a> {
    renames: &'a [Rename],
}

impl Renamer<'_> {
    fn find(&self, ident: &Ident) -> Option<&Rename> {
        let name = normalize_ident(ident);
        self.renames
            .iter()
            .find(|r| !r.alias.is_empty() && r.alias == name)
    }

    fn target(rename: &Rename, at: &Ident) -> Ident {
        Ident {
            value: rename.target.value.clone(),
            quote_style: rename.target.quote_style,
            span: at.span,
        }
    }
}

impl VisitorMut for Renamer<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                if let Some(rename) = self.find(&parts[0]) {
                    let target = Self::target(rename, &parts[0]);
                    if rename.alias_is_element {
                        parts.insert(0, target);
                    } else {
                        parts[0] = target;
                    }
                }
            }
            Expr::CompoundFieldAccess { root, .. } => {
                if let Expr::Identifier(ident) = root.as_ref()
                    && let Some(rename) = self.find(ident)
                {
                    let target = Self::target(rename, ident);
                    **root = if rename.alias_is_element {
                        Expr::CompoundIdentifier(vec![target, ident.clone()])
                    } else {
                        Expr::Identifier(target)
                    };
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
