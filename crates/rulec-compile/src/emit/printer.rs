//! The unparser dialect a policy prints with: the engine's base dialect (quoting, types,
//! operators) plus the policy's emit rewrites for structs, maps, lists, field access and
//! text casts, noting each construct the policy marks as beyond the engine.

use super::printable::MAP_LOOKUP;
use arrow_schema::TimeUnit;
use datafusion_common::arrow::array::Array as _;
use datafusion_common::{Result, ScalarValue};
use datafusion_expr::Expr;
use datafusion_sql::unparser::Unparser;
use datafusion_sql::unparser::dialect::{
    CharacterLengthStyle, CustomDialectBuilder, DateFieldExtractStyle, DefaultDialect, Dialect,
    DistinctFromStyle, IntervalStyle, PostgreSqlDialect,
};
use rulec_syntax::dialect::{DialectPolicy, EmitRewrite};
use sqlparser::ast;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Prints for one policy; collects the notes on unsupported constructs it printed.
pub(crate) struct Printer {
    policy: Option<&'static DialectPolicy>,
    base: Box<dyn Dialect>,
    notes: Mutex<BTreeMap<&'static str, String>>,
}

impl Printer {
    pub(crate) fn new(policy: Option<&'static DialectPolicy>) -> Self {
        let base = base_dialect(policy.map_or("datafusion", |p| p.unparser.as_str()));
        Printer {
            policy,
            base,
            notes: Mutex::new(BTreeMap::new()),
        }
    }

    /// One note per unsupported construct printed, `construct: why`.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|n| n.iter().map(|(c, why)| format!("{c}: {why}")).collect())
            .unwrap_or_default()
    }

    fn emits(&self, rewrite: EmitRewrite) -> bool {
        self.policy.is_some_and(|p| p.emits(rewrite))
    }

    /// Records that `construct` was printed, if the policy marks it unsupported.
    pub(crate) fn used(&self, construct: &'static str) {
        if let Some(why) = self.policy.and_then(|p| p.unsupported(construct))
            && let Ok(mut notes) = self.notes.lock()
        {
            notes.insert(construct, why.to_owned());
        }
    }

    fn field_access(&self, unparser: &Unparser, args: &[Expr]) -> Result<Option<ast::Expr>> {
        let mut fields = Vec::with_capacity(args.len() - 1);
        for arg in &args[1..] {
            let Expr::Literal(ScalarValue::Utf8(Some(name)), _) = arg else {
                return Ok(None);
            };
            fields.push(ident(self, name));
        }
        let root = unparser.expr_to_sql(&args[0])?;
        if self.emits(EmitRewrite::CompositeFieldAccess) {
            return Ok(Some(ast::Expr::CompoundFieldAccess {
                root: Box::new(ast::Expr::Nested(Box::new(root))),
                access_chain: fields
                    .into_iter()
                    .map(|f| ast::AccessExpr::Dot(ast::Expr::Identifier(f)))
                    .collect(),
            }));
        }
        Ok(Some(match root {
            ast::Expr::Identifier(id) => ast::Expr::CompoundIdentifier([vec![id], fields].concat()),
            ast::Expr::CompoundIdentifier(ids) => {
                ast::Expr::CompoundIdentifier([ids, fields].concat())
            }
            root => ast::Expr::CompoundFieldAccess {
                root: Box::new(root),
                access_chain: fields
                    .into_iter()
                    .map(|f| ast::AccessExpr::Dot(ast::Expr::Identifier(f)))
                    .collect(),
            },
        }))
    }

    fn map_value(&self, unparser: &Unparser, args: &[Expr]) -> Result<Option<ast::Expr>> {
        self.used("map");
        let (Some(keys), Some(values)) = (array_items(&args[0])?, array_items(&args[1])?) else {
            return Ok(None);
        };
        let (keys, values) = (keys.as_slice(), values.as_slice());
        let to_sql = |items: &[Expr]| -> Result<Vec<ast::Expr>> {
            items.iter().map(|e| unparser.expr_to_sql(e)).collect()
        };
        if self.emits(EmitRewrite::MapPairsFunction) && keys.len() == values.len() {
            let mut pairs = Vec::with_capacity(keys.len() * 2);
            for (k, v) in to_sql(keys)?.into_iter().zip(to_sql(values)?) {
                pairs.push(k);
                pairs.push(v);
            }
            return Ok(Some(rulec_syntax::function_call("map", pairs)));
        }
        if self.emits(EmitRewrite::MapOfArrays) {
            let array = |elem| ast::Expr::Array(ast::Array { elem, named: true });
            return Ok(Some(rulec_syntax::function_call(
                "map",
                vec![array(to_sql(keys)?), array(to_sql(values)?)],
            )));
        }
        Ok(None)
    }
}

/// The items of a list: a `make_array(...)` call, or a list literal (which a constant
/// `make_array` folds to).
fn array_items(expr: &Expr) -> Result<Option<Vec<Expr>>> {
    Ok(match expr {
        Expr::ScalarFunction(f) if f.func.name() == "make_array" => Some(f.args.clone()),
        Expr::Literal(ScalarValue::List(list), _) if list.len() == 1 && !list.is_null(0) => {
            let items = list.value(0);
            let mut exprs = Vec::with_capacity(items.len());
            for i in 0..items.len() {
                exprs.push(Expr::Literal(ScalarValue::try_from_array(&items, i)?, None));
            }
            Some(exprs)
        }
        _ => None,
    })
}

fn ident(printer: &Printer, name: &str) -> ast::Ident {
    match printer.base.identifier_quote_style(name) {
        Some(quote) => ast::Ident::with_quote(quote, name),
        None => ast::Ident::new(name),
    }
}

/// The unparser dialect a policy names.
fn base_dialect(name: &str) -> Box<dyn Dialect> {
    match name {
        "duckdb" => Box::new(DuckDb),
        "postgres" => Box::new(PostgreSqlDialect {}),
        // Spark and Trino read intervals as the SQL standard writes them: `INTERVAL '1' MONTH`.
        "spark" => Box::new(
            CustomDialectBuilder::new()
                .with_identifier_quote_style('`')
                .with_interval_style(IntervalStyle::SQLStandard)
                .build(),
        ),
        "trino" => Box::new(
            CustomDialectBuilder::new()
                .with_identifier_quote_style('"')
                .with_interval_style(IntervalStyle::SQLStandard)
                .build(),
        ),
        _ => Box::new(DefaultDialect {}),
    }
}

impl Dialect for Printer {
    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> Result<Option<ast::Expr>> {
        match func_name {
            "get_field" if args.len() >= 2 => return self.field_access(unparser, args),
            MAP_LOOKUP if args.len() == 2 => {
                self.used("map");
                let root = unparser.expr_to_sql(&args[0])?;
                let index = unparser.expr_to_sql(&args[1])?;
                return Ok(Some(ast::Expr::CompoundFieldAccess {
                    root: Box::new(root),
                    access_chain: vec![ast::AccessExpr::Subscript(ast::Subscript::Index { index })],
                }));
            }
            "named_struct" => {
                self.used("struct");
                if self.emits(EmitRewrite::NamedStructFunction) {
                    let args = args
                        .iter()
                        .map(|a| unparser.expr_to_sql(a))
                        .collect::<Result<Vec<_>>>()?;
                    return Ok(Some(rulec_syntax::function_call("named_struct", args)));
                }
            }
            "map" if args.len() == 2 => return self.map_value(unparser, args),
            "array_element" if args.len() == 2 && self.emits(EmitRewrite::ZeroBasedSubscripts) => {
                let root = unparser.expr_to_sql(&args[0])?;
                let index = match &args[1] {
                    Expr::Literal(ScalarValue::Int64(Some(i)), _) => {
                        unparser.expr_to_sql(&datafusion_expr::lit(i - 1))?
                    }
                    index => {
                        unparser.expr_to_sql(&(index.clone() - datafusion_expr::lit(1_i64)))?
                    }
                };
                return Ok(Some(ast::Expr::CompoundFieldAccess {
                    root: Box::new(root),
                    access_chain: vec![ast::AccessExpr::Subscript(ast::Subscript::Index { index })],
                }));
            }
            "make_array" if self.emits(EmitRewrite::ArrayFunction) => {
                let args = args
                    .iter()
                    .map(|a| unparser.expr_to_sql(a))
                    .collect::<Result<Vec<_>>>()?;
                return Ok(Some(rulec_syntax::function_call("array", args)));
            }
            _ => {}
        }
        self.base
            .scalar_function_to_sql_overrides(unparser, func_name, args)
    }

    fn utf8_cast_dtype(&self) -> ast::DataType {
        if self.emits(EmitRewrite::StringType) {
            ast::DataType::String(None)
        } else {
            self.base.utf8_cast_dtype()
        }
    }

    fn large_utf8_cast_dtype(&self) -> ast::DataType {
        if self.emits(EmitRewrite::StringType) {
            ast::DataType::String(None)
        } else {
            self.base.large_utf8_cast_dtype()
        }
    }

    // Everything else is the base dialect's.

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.base.identifier_quote_style(identifier)
    }
    fn use_array_keyword_for_array_literals(&self) -> bool {
        self.base.use_array_keyword_for_array_literals()
    }
    fn supports_nulls_first_in_sort(&self) -> bool {
        self.base.supports_nulls_first_in_sort()
    }
    fn use_timestamp_for_date64(&self) -> bool {
        self.base.use_timestamp_for_date64()
    }
    fn interval_style(&self) -> IntervalStyle {
        self.base.interval_style()
    }
    fn float64_ast_dtype(&self) -> ast::DataType {
        self.base.float64_ast_dtype()
    }
    fn date_field_extract_style(&self) -> DateFieldExtractStyle {
        self.base.date_field_extract_style()
    }
    fn distinct_from_style(&self) -> DistinctFromStyle {
        self.base.distinct_from_style()
    }
    fn character_length_style(&self) -> CharacterLengthStyle {
        self.base.character_length_style()
    }
    fn int64_cast_dtype(&self) -> ast::DataType {
        self.base.int64_cast_dtype()
    }
    fn int8_cast_dtype(&self) -> ast::DataType {
        self.base.int8_cast_dtype()
    }
    fn int32_cast_dtype(&self) -> ast::DataType {
        self.base.int32_cast_dtype()
    }
    fn timestamp_cast_dtype(&self, unit: &TimeUnit, tz: &Option<Arc<str>>) -> ast::DataType {
        self.base.timestamp_cast_dtype(unit, tz)
    }
    fn date32_cast_dtype(&self) -> ast::DataType {
        self.base.date32_cast_dtype()
    }
    fn supports_column_alias_in_table_alias(&self) -> bool {
        self.base.supports_column_alias_in_table_alias()
    }
    fn requires_derived_table_alias(&self) -> bool {
        self.base.requires_derived_table_alias()
    }
    fn division_operator(&self) -> ast::BinaryOperator {
        self.base.division_operator()
    }
    fn higher_order_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> Result<Option<ast::Expr>> {
        self.base
            .higher_order_function_to_sql_overrides(unparser, func_name, args)
    }
    fn window_func_support_window_frame(
        &self,
        func_name: &str,
        start_bound: &ast::WindowFrameBound,
        end_bound: &ast::WindowFrameBound,
    ) -> bool {
        self.base
            .window_func_support_window_frame(func_name, start_bound, end_bound)
    }
    fn full_qualified_col(&self) -> bool {
        self.base.full_qualified_col()
    }
    fn unnest_as_table_factor(&self) -> bool {
        self.base.unnest_as_table_factor()
    }
    fn unnest_as_lateral_flatten(&self) -> bool {
        self.base.unnest_as_lateral_flatten()
    }
    fn col_alias_overrides(&self, alias: &str) -> Result<Option<String>> {
        self.base.col_alias_overrides(alias)
    }
    fn supports_qualify(&self) -> bool {
        self.base.supports_qualify()
    }
    fn supports_empty_select_list(&self) -> bool {
        self.base.supports_empty_select_list()
    }
    fn string_literal_to_sql(&self, s: &str) -> Option<ast::Expr> {
        self.base.string_literal_to_sql(s)
    }
}

/// DuckDB as rulec prints it: DataFusion's DuckDB dialect (double quotes, `length`,
/// `IS DISTINCT FROM`), but with every derived table aliased (DuckDB does not see a table's
/// name through an unaliased subquery, as DataFusion does) and `/` for division (the
/// DuckDB dialect's `//` floors, and would apply to every division, not only integers').
struct DuckDb;

impl Dialect for DuckDb {
    fn identifier_quote_style(&self, _: &str) -> Option<char> {
        Some('"')
    }

    fn character_length_style(&self) -> CharacterLengthStyle {
        CharacterLengthStyle::Length
    }

    fn requires_derived_table_alias(&self) -> bool {
        true
    }

    fn distinct_from_style(&self) -> DistinctFromStyle {
        DistinctFromStyle::FullText
    }
}
