//! Syntax for the unnest forms DataFusion 55.2 has no keyword for, written with what it has
//! (used by the lateral-unnest rewriter and the dialects' read rewrites):
//!
//! - element numbers (`WITH ORDINALITY`, `WITH OFFSET`, Spark's `posexplode`):
//!   `unnest(range(base, CAST(array_length(l) AS BIGINT) + base))` beside `unnest(l)` in one
//!   select list, which DataFusion zips element by element;
//! - an unnest that keeps a row for a NULL or empty list (`LEFT JOIN unnest(…) ON TRUE`,
//!   Spark's `explode_outer`): `unnest(CASE WHEN array_length(l) > 0 THEN l ELSE [NULL]
//!   END)`, one NULL element where the list has none.

use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    Array, BinaryOperator, CaseWhen, CastKind, DataType, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName, Value,
};

/// `name(args)`: a plain call (also what `rulec-compile`'s printer writes).
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
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

fn number(n: i64) -> Expr {
    Expr::Value(Value::Number(n.to_string(), false).into())
}

/// `unnest(range(base, CAST(<length> AS BIGINT) + base))`: the numbers of the elements of
/// the longest of `lists` (`greatest(array_length(l1), …)`), from `base`. A NULL or empty
/// list has none.
pub(crate) fn element_numbers(lists: &[Expr], base: i64) -> Expr {
    let mut lengths: Vec<Expr> = lists
        .iter()
        .map(|l| call("array_length", vec![l.clone()]))
        .collect();
    let length = if lengths.len() == 1 {
        lengths.remove(0)
    } else {
        call("greatest", lengths)
    };
    let length = Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(length),
        data_type: DataType::BigInt(None),
        array: false,
        format: None,
    };
    let end = Expr::BinaryOp {
        left: Box::new(length),
        op: BinaryOperator::Plus,
        right: Box::new(number(base)),
    };
    call("unnest", vec![call("range", vec![number(base), end])])
}

/// `CASE WHEN array_length(list) > 0 THEN list ELSE [NULL] END`: `list`, or a list of one
/// NULL where it is NULL or empty, so that its unnest keeps the row.
pub(crate) fn nonempty_or_null(list: Expr) -> Expr {
    let keyword = |word: &str| {
        AttachedToken(sqlparser::tokenizer::TokenWithSpan {
            token: sqlparser::tokenizer::Token::make_keyword(word),
            span: sqlparser::tokenizer::Span::empty(),
        })
    };
    Expr::Case {
        case_token: keyword("CASE"),
        end_token: keyword("END"),
        operand: None,
        conditions: vec![CaseWhen {
            condition: Expr::BinaryOp {
                left: Box::new(call("array_length", vec![list.clone()])),
                op: BinaryOperator::Gt,
                right: Box::new(number(0)),
            },
            result: list,
        }],
        else_result: Some(Box::new(Expr::Array(Array {
            elem: vec![Expr::Value(Value::Null.into())],
            named: false,
        }))),
    }
}
