//! The meaning-changing mutations of the fingerprint proofs (the fingerprint must move):
//! a literal, a comparison, a conjunct, a join type, an aggregate, two columns, DISTINCT,
//! a LIMIT. Each edits the sqlparser AST and returns whether it applied.

use crate::mutate::{ExprMapper, first_select, map_exprs, parse, query, with_top_select};
use crate::mutate_nested;
use rulec_syntax::sqlparser::ast::*;
use std::ops::ControlFlow;

/// A meaning-changing mutation family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sensitive {
    LiteralChanged,
    ComparisonFlipped,
    ConjunctDropped,
    JoinTypeChanged,
    AggregateChanged,
    ColumnSwapped,
    DistinctAdded,
    LimitChanged,
    FieldPathChanged,
}

impl Sensitive {
    pub const ALL: [Sensitive; 9] = [
        Sensitive::LiteralChanged,
        Sensitive::ComparisonFlipped,
        Sensitive::ConjunctDropped,
        Sensitive::JoinTypeChanged,
        Sensitive::AggregateChanged,
        Sensitive::ColumnSwapped,
        Sensitive::DistinctAdded,
        Sensitive::LimitChanged,
        Sensitive::FieldPathChanged,
    ];
}

/// The rule's SQL after one meaning-changing mutation, if it applies.
pub fn sensitive(sql: &str, family: Sensitive) -> Option<String> {
    let mut statement = parse(sql);
    let changed = match family {
        Sensitive::LiteralChanged => with_top_select(&mut statement, change_literal),
        Sensitive::ComparisonFlipped => with_top_select(&mut statement, flip_comparison),
        Sensitive::ConjunctDropped => with_top_select(&mut statement, drop_conjunct),
        Sensitive::JoinTypeChanged => first_select(&mut statement, inner_to_left),
        Sensitive::AggregateChanged => change_aggregate(&mut statement),
        Sensitive::ColumnSwapped => with_top_select(&mut statement, swap_columns),
        Sensitive::DistinctAdded => {
            add_distinct_to_aggregate(&mut statement)
                || with_top_select(&mut statement, |s| {
                    let plain = s.distinct.is_none() && group_by_is_empty(s) && !has_aggregate(s);
                    if plain {
                        s.distinct = Some(Distinct::Distinct);
                    }
                    plain
                })
        }
        Sensitive::LimitChanged => change_limit(query(&mut statement)),
        Sensitive::FieldPathChanged => mutate_nested::field_path_changed(&mut statement),
    };
    changed.then(|| statement.to_string())
}

/// The first literal of the WHERE clause (else of the select list) changes by one character.
/// Literals inside `EXISTS (…)` are left alone: `EXISTS (SELECT 1 …)` means the same with
/// any select list.
pub(crate) fn change_literal(select: &mut Select) -> bool {
    struct Changer {
        in_exists: usize,
        done: bool,
    }
    impl VisitorMut for Changer {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if matches!(expr, Expr::Exists { .. }) {
                self.in_exists += 1;
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if matches!(expr, Expr::Exists { .. }) {
                self.in_exists -= 1;
                return ControlFlow::Continue(());
            }
            if self.done || self.in_exists > 0 {
                return ControlFlow::Continue(());
            }
            if let Expr::Value(ValueWithSpan { value, .. }) = expr {
                match value {
                    Value::Number(n, _) => {
                        let last = n.pop().expect("a number has digits");
                        let next = if last == '9' {
                            '8'
                        } else {
                            (last as u8 + 1) as char
                        };
                        n.push(next);
                        self.done = true;
                    }
                    Value::SingleQuotedString(s) if !s.is_empty() => {
                        let last = s.pop().expect("non-empty");
                        s.push(if last == 'x' { 'y' } else { 'x' });
                        self.done = true;
                    }
                    _ => {}
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut changer = Changer {
        in_exists: 0,
        done: false,
    };
    if let Some(selection) = &mut select.selection {
        let _ = selection.visit(&mut changer);
    }
    if !changer.done {
        for item in &mut select.projection {
            let _ = item.visit(&mut changer);
        }
    }
    changer.done
}

pub(crate) fn flip_comparison(select: &mut Select) -> bool {
    let Some(selection) = &mut select.selection else {
        return false;
    };
    for ordering in [true, false] {
        let mut done = false;
        let mut mapper = ExprMapper {
            f: |expr: &mut Expr| {
                if done {
                    return false;
                }
                if let Expr::BinaryOp { op, .. } = expr {
                    let flipped = match op {
                        BinaryOperator::Lt if ordering => BinaryOperator::Gt,
                        BinaryOperator::Gt if ordering => BinaryOperator::Lt,
                        BinaryOperator::LtEq if ordering => BinaryOperator::GtEq,
                        BinaryOperator::GtEq if ordering => BinaryOperator::LtEq,
                        BinaryOperator::Eq if !ordering => BinaryOperator::NotEq,
                        _ => return false,
                    };
                    *op = flipped;
                    done = true;
                }
                done
            },
            changed: false,
        };
        let _ = selection.visit(&mut mapper);
        if mapper.changed {
            return true;
        }
    }
    false
}

/// The last conjunct of the WHERE clause (or of the first inner join's ON) is dropped.
pub(crate) fn drop_conjunct(select: &mut Select) -> bool {
    fn drop_last(expr: &mut Expr) -> bool {
        match expr {
            Expr::Nested(inner) => drop_last(inner),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                ..
            } => {
                let kept = (**left).clone();
                *expr = kept;
                true
            }
            _ => false,
        }
    }
    if let Some(selection) = &mut select.selection
        && drop_last(selection)
    {
        return true;
    }
    for table in &mut select.from {
        for join in &mut table.joins {
            if let JoinOperator::Join(JoinConstraint::On(e))
            | JoinOperator::Inner(JoinConstraint::On(e)) = &mut join.join_operator
                && drop_last(e)
            {
                return true;
            }
        }
    }
    false
}

/// The first explicit inner join of a SELECT becomes a left outer join.
pub(crate) fn inner_to_left(select: &mut Select) -> bool {
    for table in &mut select.from {
        for join in &mut table.joins {
            if let JoinOperator::Join(JoinConstraint::On(e))
            | JoinOperator::Inner(JoinConstraint::On(e)) = &join.join_operator
            {
                join.join_operator = JoinOperator::LeftOuter(JoinConstraint::On(e.clone()));
                return true;
            }
        }
    }
    false
}

/// Another aggregate for sum, avg, min and max (`count(*)` has no drop-in replacement).
pub(crate) fn aggregate_replacement(name: &ObjectName) -> Option<&'static str> {
    match name.to_string().to_lowercase().as_str() {
        "sum" => Some("max"),
        "avg" => Some("min"),
        "min" => Some("max"),
        "max" => Some("min"),
        _ => None,
    }
}

pub(crate) fn is_aggregate(name: &ObjectName) -> bool {
    aggregate_replacement(name).is_some() || name.to_string().eq_ignore_ascii_case("count")
}

/// The first sum, avg, min or max call becomes another aggregate.
pub(crate) fn change_aggregate(statement: &mut Statement) -> bool {
    let mut done = false;
    map_exprs(statement, |expr| {
        if done {
            return false;
        }
        if let Expr::Function(f) = expr
            && f.over.is_none()
            && let Some(replacement) = aggregate_replacement(&f.name)
        {
            f.name = ObjectName::from(vec![Ident::new(replacement)]);
            done = true;
            return true;
        }
        false
    })
}

/// The first aggregate over a column (`sum(x)`, `count(x)`, …) becomes `agg(DISTINCT x)`.
pub(crate) fn add_distinct_to_aggregate(statement: &mut Statement) -> bool {
    let mut done = false;
    map_exprs(statement, |expr| {
        if done {
            return false;
        }
        if let Expr::Function(f) = expr
            && f.over.is_none()
            && is_aggregate(&f.name)
            && let FunctionArguments::List(list) = &mut f.args
            && list.duplicate_treatment.is_none()
            && matches!(
                list.args.as_slice(),
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(_))]
            )
        {
            list.duplicate_treatment = Some(DuplicateTreatment::Distinct);
            done = true;
            return true;
        }
        false
    })
}

pub(crate) fn has_aggregate(select: &mut Select) -> bool {
    let mut found = false;
    for item in &mut select.projection {
        let mut mapper = ExprMapper {
            f: |e: &mut Expr| {
                if let Expr::Function(f) = e
                    && is_aggregate(&f.name)
                {
                    found = true;
                }
                false
            },
            changed: false,
        };
        let _ = item.visit(&mut mapper);
    }
    found
}

pub(crate) fn group_by_is_empty(select: &Select) -> bool {
    match &select.group_by {
        rulec_syntax::sqlparser::ast::GroupByExpr::Expressions(exprs, _) => exprs.is_empty(),
        rulec_syntax::sqlparser::ast::GroupByExpr::All(_) => false,
    }
}

/// Two plain column items of the select list swap their values; names stay.
pub(crate) fn swap_columns(select: &mut Select) -> bool {
    let columns: Vec<usize> = select
        .projection
        .iter()
        .enumerate()
        .filter(|(_, item)| {
            matches!(
                item,
                SelectItem::UnnamedExpr(Expr::Identifier(_) | Expr::CompoundIdentifier(_))
                    | SelectItem::ExprWithAlias {
                        expr: Expr::Identifier(_) | Expr::CompoundIdentifier(_),
                        ..
                    }
            )
        })
        .map(|(i, _)| i)
        .collect();
    let [a, b, ..] = columns.as_slice() else {
        return false;
    };
    let parts = |item: &SelectItem| -> (Expr, Ident) {
        match item {
            SelectItem::UnnamedExpr(e) => {
                let name = match e {
                    Expr::Identifier(i) => i.clone(),
                    Expr::CompoundIdentifier(parts) => parts.last().expect("parts").clone(),
                    _ => unreachable!(),
                };
                (e.clone(), name)
            }
            SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), alias.clone()),
            _ => unreachable!(),
        }
    };
    let (ea, na) = parts(&select.projection[*a]);
    let (eb, nb) = parts(&select.projection[*b]);
    if ea.to_string().to_lowercase() == eb.to_string().to_lowercase() {
        return false;
    }
    select.projection[*a] = SelectItem::ExprWithAlias {
        expr: eb,
        alias: na,
    };
    select.projection[*b] = SelectItem::ExprWithAlias {
        expr: ea,
        alias: nb,
    };
    true
}

/// `LIMIT n` becomes `LIMIT n - 1` (or 2 when n is 1).
pub(crate) fn change_limit(query: &mut Query) -> bool {
    let Some(LimitClause::LimitOffset {
        limit:
            Some(Expr::Value(ValueWithSpan {
                value: Value::Number(n, _),
                ..
            })),
        ..
    }) = &mut query.limit_clause
    else {
        return false;
    };
    let Ok(value) = n.parse::<u64>() else {
        return false;
    };
    *n = if value > 1 { value - 1 } else { 2 }.to_string();
    true
}
