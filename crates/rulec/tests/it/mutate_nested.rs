//! Mutations of nested-data rules (structs, maps, lists and unnest), for the fingerprint
//! proofs: the spellings CPG authors use for one meaning, and a change of meaning in a
//! struct path.
//!
//! Each mutation edits the sqlparser AST and returns whether it applied.

use rulec_syntax::sqlparser::ast::{
    AccessExpr, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, Join, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart,
    Query, Select, SelectItem, SetExpr, Statement, Subscript, TableAlias, TableAliasColumnDef,
    TableFactor, Value, ValueWithSpan, VisitMut, VisitorMut,
};
use rulec_syntax::sqlparser::dialect::GenericDialect;
use rulec_syntax::sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

fn lower(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

fn string(s: &str) -> Expr {
    Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(s.to_owned())))
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// Every table alias, table name and CTE name of the statement (normalized): what the first
/// part of a compound identifier can name besides a column.
fn relation_names(statement: &mut Statement) -> BTreeSet<String> {
    #[derive(Default)]
    struct Names(BTreeSet<String>);
    impl VisitorMut for Names {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.0.insert(lower(&cte.alias.name));
                }
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            match factor {
                TableFactor::Table { name, alias, .. } => {
                    if let Some(ObjectNamePart::Identifier(i)) = name.0.last() {
                        self.0.insert(lower(i));
                    }
                    if let Some(a) = alias {
                        self.0.insert(lower(&a.name));
                    }
                }
                TableFactor::Derived { alias: Some(a), .. }
                | TableFactor::UNNEST { alias: Some(a), .. } => {
                    self.0.insert(lower(&a.name));
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names::default();
    let _ = statement.visit(&mut names);
    names.0
}

/// The number of leading parts of a compound identifier that name a column (with its
/// table): 2 for `t.c.f…`, 1 for `c.f…`.
fn column_parts(parts: &[Ident], relations: &BTreeSet<String>) -> usize {
    if relations.contains(&lower(&parts[0])) {
        2
    } else {
        1
    }
}

/// Every table factor of a SELECT's FROM clause: each item's first relation and its joins'.
fn factors(select: &Select) -> impl Iterator<Item = &TableFactor> {
    select
        .from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
}

/// [`factors`], mutable.
fn factors_mut(select: &mut Select) -> impl Iterator<Item = &mut TableFactor> {
    select.from.iter_mut().flat_map(|t| {
        std::iter::once(&mut t.relation).chain(t.joins.iter_mut().map(|j| &mut j.relation))
    })
}

// ---- field access spelling ------------------------------------------------------------

/// Struct field accesses written with dots become brackets and `get_field` calls, in turn:
/// `t.node.kind` → `t.node['kind']`, the next `get_field(t.node, 'kind')`.
pub fn field_access_spelling(statement: &mut Statement) -> bool {
    struct Respell {
        relations: BTreeSet<String>,
        count: usize,
    }
    impl VisitorMut for Respell {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            let Expr::CompoundIdentifier(parts) = expr else {
                return ControlFlow::Continue(());
            };
            let column = column_parts(parts, &self.relations);
            if parts.len() <= column {
                return ControlFlow::Continue(());
            }
            let field = parts.pop().expect("a field");
            let base = if parts.len() == 1 {
                Expr::Identifier(parts[0].clone())
            } else {
                Expr::CompoundIdentifier(parts.clone())
            };
            *expr = if self.count.is_multiple_of(2) {
                Expr::CompoundFieldAccess {
                    root: Box::new(base),
                    access_chain: vec![AccessExpr::Subscript(Subscript::Index {
                        index: string(&field.value),
                    })],
                }
            } else {
                call("get_field", vec![base, string(&field.value)])
            };
            self.count += 1;
            ControlFlow::Continue(())
        }
    }
    let relations = relation_names(statement);
    let mut respell = Respell {
        relations,
        count: 0,
    };
    let _ = statement.visit(&mut respell);
    respell.count > 0
}

// ---- flattening a field early ---------------------------------------------------------

/// A struct path read through a derived table (`q.c.f`) is taken out one layer earlier:
/// the derived table is wrapped in `(SELECT q.*, q.c.f AS c__f FROM (…) AS q) AS q` and
/// the path read as `q.c__f`.
pub fn flatten_early(statement: &mut Statement) -> bool {
    struct Flatten {
        changed: bool,
    }
    impl VisitorMut for Flatten {
        type Break = ();
        // After the select's own subqueries: the wrapper made here is not visited again.
        fn post_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
            let derived: Vec<String> = factors(select)
                .filter_map(|f| match f {
                    TableFactor::Derived { alias: Some(a), .. } => Some(lower(&a.name)),
                    _ => None,
                })
                .collect();
            for alias in derived {
                // The first path of three parts through this alias.
                let mut finder = PathFinder {
                    alias: &alias,
                    found: None,
                };
                for item in &mut select.projection {
                    let _ = item.visit(&mut finder);
                }
                if let Some(selection) = &mut select.selection {
                    let _ = selection.visit(&mut finder);
                }
                let Some(path) = finder.found else {
                    continue;
                };
                let flat = format!("{}__{}", lower(&path[1]), lower(&path[2]));
                let mut replacer = PathReplacer {
                    path: path.iter().map(lower).collect(),
                    flat: Ident::new(flat.clone()),
                };
                keep_item_names(select);
                let _ = select.visit(&mut replacer);
                let template = format!(
                    "SELECT {a}.*, {a}.{c}.{f} AS {flat} FROM (SELECT 1) AS {a}",
                    a = path[0],
                    c = path[1],
                    f = path[2]
                );
                let mut wrapper = parse_query(&template);
                for factor in factors_mut(select) {
                    if let TableFactor::Derived {
                        alias: Some(a),
                        subquery,
                        ..
                    } = factor
                        && lower(&a.name) == alias
                    {
                        let SetExpr::Select(inner) = wrapper.body.as_mut() else {
                            unreachable!("a select")
                        };
                        if let TableFactor::Derived { subquery: s, .. } =
                            &mut inner.from[0].relation
                        {
                            *s = subquery.clone();
                        }
                        **subquery = wrapper.clone();
                        self.changed = true;
                        break;
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut flatten = Flatten { changed: false };
    let _ = statement.visit(&mut flatten);
    flatten.changed
}

fn parse_query(sql: &str) -> Query {
    match Parser::parse_sql(&GenericDialect {}, sql).map(|mut s| s.pop()) {
        Ok(Some(Statement::Query(q))) => *q,
        other => panic!("template {sql}: {other:?}"),
    }
}

struct PathFinder<'a> {
    alias: &'a str,
    found: Option<Vec<Ident>>,
}

impl VisitorMut for PathFinder<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.found.is_none()
            && let Expr::CompoundIdentifier(parts) = expr
            && parts.len() >= 3
            && lower(&parts[0]) == self.alias
        {
            self.found = Some(parts[..3].to_vec());
        }
        ControlFlow::Continue(())
    }
    // Subqueries have scopes of their own.
    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

struct PathReplacer {
    path: Vec<String>,
    flat: Ident,
}

impl VisitorMut for PathReplacer {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts.len() >= 3
            && parts[..3].iter().map(lower).eq(self.path.iter().cloned())
        {
            parts.splice(1..3, [self.flat.clone()]);
        }
        ControlFlow::Continue(())
    }
}

/// Gives every unaliased column item of the select list its current output name as an
/// alias, so that rewriting the column keeps the product's column name.
fn keep_item_names(select: &mut Select) {
    for item in &mut select.projection {
        if let SelectItem::UnnamedExpr(expr) = item {
            let name = match expr {
                Expr::Identifier(i) => i.clone(),
                Expr::CompoundIdentifier(parts) => parts.last().expect("parts").clone(),
                _ => continue,
            };
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: name,
            };
        }
    }
}

// ---- subquery and CTE layers ------------------------------------------------------------

/// Every table read by name is read through a layer, `(SELECT * FROM t) AS t`, and a rule
/// without ORDER BY or LIMIT is wrapped whole in a CTE: `WITH layered AS (…) SELECT * FROM
/// layered`.
pub fn subquery_layering(statement: &mut Statement) -> bool {
    struct Layer {
        changed: bool,
    }
    impl VisitorMut for Layer {
        type Break = ();
        fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } = factor
            {
                let Some(ObjectNamePart::Identifier(last)) = name.0.last() else {
                    return ControlFlow::Continue(());
                };
                let alias = alias.clone().unwrap_or(TableAlias {
                    explicit: true,
                    name: last.clone(),
                    columns: Vec::new(),
                    at: None,
                });
                let query = parse_query(&format!("SELECT * FROM {name}"));
                *factor = TableFactor::Derived {
                    lateral: false,
                    subquery: Box::new(query),
                    alias: Some(alias),
                    sample: None,
                };
                self.changed = true;
            }
            ControlFlow::Continue(())
        }
    }
    let mut layer = Layer { changed: false };
    let _ = statement.visit(&mut layer);
    let Statement::Query(query) = statement else {
        return layer.changed;
    };
    if query.order_by.is_none() && query.limit_clause.is_none() {
        let mut wrapper = parse_query("WITH layered AS (SELECT 1) SELECT * FROM layered");
        if let Some(with) = &mut wrapper.with {
            with.cte_tables[0].query = query.clone();
        }
        **query = wrapper;
        return true;
    }
    layer.changed
}

// ---- lateral unnest ---------------------------------------------------------------------

/// A derived table that unnests a list in its select list, `(SELECT a, unnest(l) AS x
/// FROM t) AS q`, becomes the lateral form `t AS q CROSS JOIN unnest(q.l) AS u_q(x)`, and
/// `q.x` becomes `u_q.x`. Only a plain derived table: column items, one unnest, no WHERE,
/// GROUP BY or DISTINCT, one table without joins, and the derived table first in its FROM
/// item.
pub fn lateral_unnest(statement: &mut Statement) -> bool {
    struct Lateral {
        changed: bool,
    }
    impl VisitorMut for Lateral {
        type Break = ();
        fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
            let mut renames: Vec<(String, Ident, String)> = Vec::new();
            for table in &mut select.from {
                let Some((relation, list, element, alias)) = lateral_parts(&table.relation) else {
                    continue;
                };
                let unnest_alias = Ident::new(format!("u_{}", lower(&alias.name)));
                table.relation = relation;
                table.joins.insert(
                    0,
                    Join {
                        relation: TableFactor::UNNEST {
                            alias: Some(TableAlias {
                                explicit: true,
                                name: unnest_alias.clone(),
                                columns: vec![TableAliasColumnDef {
                                    name: element.clone(),
                                    data_type: None,
                                }],
                                at: None,
                            }),
                            array_exprs: vec![list],
                            with_offset: false,
                            with_offset_alias: None,
                            with_ordinality: false,
                        },
                        global: false,
                        join_operator: JoinOperator::CrossJoin(JoinConstraint::None),
                    },
                );
                renames.push((lower(&alias.name), unnest_alias, lower(&element)));
                self.changed = true;
            }
            if !renames.is_empty() {
                keep_item_names(select);
                let mut renamer = ElementRenamer { renames: &renames };
                let _ = select.visit(&mut renamer);
            }
            ControlFlow::Continue(())
        }
    }
    let mut lateral = Lateral { changed: false };
    let _ = statement.visit(&mut lateral);
    lateral.changed
}

/// For a derived table that qualifies (see [`lateral_unnest`]): its table aliased as the
/// derived table, the list qualified with that alias, the element's name and the alias.
fn lateral_parts(factor: &TableFactor) -> Option<(TableFactor, Expr, Ident, TableAlias)> {
    let TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(alias),
        ..
    } = factor
    else {
        return None;
    };
    if !alias.columns.is_empty() || subquery.with.is_some() || subquery.order_by.is_some() {
        return None;
    }
    let SetExpr::Select(select) = subquery.body.as_ref() else {
        return None;
    };
    if select.selection.is_some()
        || select.distinct.is_some()
        || select.having.is_some()
        || !matches!(&select.group_by, rulec_syntax::sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty())
        || select.from.len() != 1
        || !select.from[0].joins.is_empty()
    {
        return None;
    }
    let inner = &select.from[0].relation;
    let inner_name = match inner {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            lower(&a.name)
        }
        TableFactor::Table { name, .. } => match name.0.last() {
            Some(ObjectNamePart::Identifier(i)) => lower(i),
            _ => return None,
        },
        _ => return None,
    };
    let mut unnest: Option<(Expr, Ident)> = None;
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(Expr::Identifier(_)) => {}
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts))
                if parts.len() == 2 && lower(&parts[0]) == inner_name => {}
            SelectItem::ExprWithAlias {
                expr: Expr::Function(f),
                alias: element,
            } if f.name.to_string().eq_ignore_ascii_case("unnest") && unnest.is_none() => {
                let FunctionArguments::List(list) = &f.args else {
                    return None;
                };
                let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice()
                else {
                    return None;
                };
                unnest = Some((arg.clone(), element.clone()));
            }
            _ => return None,
        }
    }
    let (list, element) = unnest?;
    let qualified = match list {
        Expr::Identifier(i) => Expr::CompoundIdentifier(vec![alias.name.clone(), i]),
        Expr::CompoundIdentifier(mut parts) if lower(&parts[0]) == inner_name => {
            parts[0] = alias.name.clone();
            Expr::CompoundIdentifier(parts)
        }
        _ => return None,
    };
    let relation = match inner.clone() {
        TableFactor::Table {
            name,
            args,
            with_hints,
            version,
            partitions,
            with_ordinality,
            json_path,
            sample,
            index_hints,
            ..
        } => TableFactor::Table {
            name,
            alias: Some(TableAlias {
                explicit: true,
                name: alias.name.clone(),
                columns: Vec::new(),
                at: None,
            }),
            args,
            with_hints,
            version,
            partitions,
            with_ordinality,
            json_path,
            sample,
            index_hints,
        },
        TableFactor::Derived {
            lateral,
            subquery,
            sample,
            ..
        } => TableFactor::Derived {
            lateral,
            subquery,
            alias: Some(TableAlias {
                explicit: true,
                name: alias.name.clone(),
                columns: Vec::new(),
                at: None,
            }),
            sample,
        },
        _ => return None,
    };
    Some((relation, qualified, element, alias.clone()))
}

/// `q.x…` → `u_q.x…` for the unnest elements moved out of derived table `q`.
struct ElementRenamer<'a> {
    renames: &'a [(String, Ident, String)],
}

impl VisitorMut for ElementRenamer<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts.len() >= 2
            && let Some((_, unnest_alias, _)) = self
                .renames
                .iter()
                .find(|(q, _, x)| *q == lower(&parts[0]) && *x == lower(&parts[1]))
        {
            parts[0] = unnest_alias.clone();
        }
        ControlFlow::Continue(())
    }
}

// ---- renaming struct columns -------------------------------------------------------------

/// The aliases of a derived table's select items (`unnest(nodes) AS node`) get new names,
/// and the enclosing SELECT reads them under the new names (`q.node.kind`, `node.kind`).
pub fn struct_alias_renaming(statement: &mut Statement) -> bool {
    struct Rename {
        changed: bool,
    }
    impl VisitorMut for Rename {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            let order_by = &mut query.order_by;
            match query.body.as_mut() {
                SetExpr::Select(select) => self.changed |= rename_in(select, order_by.as_mut()),
                body => self.changed |= rename_in_branches(body),
            }
            ControlFlow::Continue(())
        }
    }
    let mut rename = Rename { changed: false };
    let _ = statement.visit(&mut rename);
    rename.changed
}

/// The branches of a set operation (their ORDER BY reads output names, which stay).
fn rename_in_branches(body: &mut SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => rename_in(select, None),
        SetExpr::SetOperation { left, right, .. } => {
            let l = rename_in_branches(left);
            rename_in_branches(right) || l
        }
        _ => false,
    }
}

/// Renames the items of `select`'s derived tables and what reads them in `select` and the
/// query's ORDER BY. A select with `*` in its list is left alone: its output names would
/// change with its derived tables'.
fn rename_in(
    select: &mut Select,
    order_by: Option<&mut rulec_syntax::sqlparser::ast::OrderBy>,
) -> bool {
    if select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    }) {
        return false;
    }
    let mut renames: Vec<(String, String, Ident)> = Vec::new();
    for factor in factors_mut(select) {
        let TableFactor::Derived {
            subquery,
            alias: Some(alias),
            ..
        } = factor
        else {
            continue;
        };
        if !alias.columns.is_empty() {
            continue;
        }
        let SetExpr::Select(inner) = subquery.body.as_mut() else {
            continue;
        };
        for item in &mut inner.projection {
            if let SelectItem::ExprWithAlias { alias: name, .. } = item {
                let new = Ident::new(format!("{}_renamed", lower(name)));
                renames.push((lower(&alias.name), lower(name), new.clone()));
                *name = new;
            }
        }
    }
    if renames.is_empty() {
        return false;
    }
    keep_item_names(select);
    let relations: BTreeSet<String> = renames.iter().map(|(q, _, _)| q.clone()).collect();
    let mut renamer = ColumnRenamer {
        renames: &renames,
        relations: &relations,
    };
    for item in &mut select.projection {
        let _ = item.visit(&mut renamer);
    }
    for expr in [&mut select.selection, &mut select.having]
        .into_iter()
        .flatten()
    {
        let _ = expr.visit(&mut renamer);
    }
    if let rulec_syntax::sqlparser::ast::GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
        for e in exprs {
            let _ = e.visit(&mut renamer);
        }
    }
    for table in &mut select.from {
        for join in &mut table.joins {
            let _ = join.join_operator.visit(&mut renamer);
            // The lists a lateral unnest reads are read in this SELECT's scope.
            if let TableFactor::UNNEST { array_exprs, .. } = &mut join.relation {
                for list in array_exprs {
                    let _ = list.visit(&mut renamer);
                }
            }
        }
    }
    if let Some(order_by) = order_by {
        // Output names stay (see `keep_item_names`); only qualified reads of the derived
        // tables change.
        let output: BTreeSet<String> = select
            .projection
            .iter()
            .filter_map(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => Some(lower(alias)),
                _ => None,
            })
            .collect();
        let mut qualified_only = QualifiedOnly {
            inner: renamer,
            output: &output,
        };
        let _ = order_by.visit(&mut qualified_only);
    }
    true
}

/// A [`ColumnRenamer`] that leaves bare names of output columns alone (ORDER BY).
struct QualifiedOnly<'a> {
    inner: ColumnRenamer<'a>,
    output: &'a BTreeSet<String>,
}

impl VisitorMut for QualifiedOnly<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Identifier(c) = expr
            && self.output.contains(&lower(c))
        {
            return ControlFlow::Continue(());
        }
        self.inner.pre_visit_expr(expr)
    }
}

struct ColumnRenamer<'a> {
    /// (derived table alias, old column name, new column name)
    renames: &'a [(String, String, Ident)],
    relations: &'a BTreeSet<String>,
}

impl ColumnRenamer<'_> {
    fn qualified(&self, q: &Ident, c: &Ident) -> Option<Ident> {
        self.renames
            .iter()
            .find(|(a, old, _)| *a == lower(q) && *old == lower(c))
            .map(|(_, _, new)| new.clone())
    }
    /// An unqualified name, renamed when exactly one renamed derived table has it.
    fn bare(&self, c: &Ident) -> Option<Ident> {
        let hits: Vec<&Ident> = self
            .renames
            .iter()
            .filter(|(_, old, _)| *old == lower(c))
            .map(|(_, _, new)| new)
            .collect();
        match hits.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        }
    }
}

impl VisitorMut for ColumnRenamer<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(c) => {
                if let Some(new) = self.bare(c) {
                    *c = new;
                }
            }
            Expr::CompoundIdentifier(parts) => {
                if self.relations.contains(&lower(&parts[0])) {
                    if let Some(new) = self.qualified(&parts[0], &parts[1]) {
                        parts[1] = new;
                    }
                } else if let Some(new) = self.bare(&parts[0]) {
                    parts[0] = new;
                }
            }
            Expr::CompoundFieldAccess { root, .. } => match root.as_mut() {
                Expr::Identifier(c) => {
                    if let Some(new) = self.bare(c) {
                        *c = new;
                    }
                }
                Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                    if let Some(new) = self.qualified(&parts[0], &parts[1]) {
                        parts[1] = new;
                    }
                }
                _ => {}
            },
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

// ---- a change of meaning -----------------------------------------------------------------

/// Field pairs of the CPG contracts with the same type: swapping one for the other in a
/// struct path reads a different value.
const FIELD_SWAPS: &[(&str, &str)] = &[
    ("start", "end"),
    ("line0", "col"),
    ("src", "dst"),
    ("is_parameter", "is_local"),
    ("is_free", "is_global"),
    ("is_imported", "is_assigned"),
    ("block_id", "parent_block_id"),
];

/// The first struct field of a dotted path that has a same-typed sibling is replaced by
/// it (`n.node.span.start.line0` → `n.node.span.end.line0`).
pub fn field_path_changed(statement: &mut Statement) -> bool {
    struct Swap {
        relations: BTreeSet<String>,
        done: bool,
    }
    impl VisitorMut for Swap {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if self.done {
                return ControlFlow::Break(());
            }
            if let Expr::CompoundIdentifier(parts) = expr {
                let column = column_parts(parts, &self.relations);
                for part in parts.iter_mut().skip(column) {
                    let name = lower(part);
                    if let Some(other) = FIELD_SWAPS.iter().find_map(|(a, b)| {
                        (name == *a).then_some(*b).or((name == *b).then_some(*a))
                    }) {
                        *part = Ident::with_quote('"', other);
                        self.done = true;
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let relations = relation_names(statement);
    let mut swap = Swap {
        relations,
        done: false,
    };
    let _ = statement.visit(&mut swap);
    swap.done
}
