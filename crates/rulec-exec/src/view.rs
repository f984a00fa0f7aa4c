//! Ephemeral products: a rule's plan served as a table that is never written.

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType, ViewTable};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

/// A view whose plan becomes part of its readers' physical plans: scanning it plans it
/// (with the reader's projection, filters and limit). It does not show its logical plan,
/// so a reader's Substrait read of it stays a table scan, as for a written product.
#[derive(Debug)]
pub struct EphemeralTable(ViewTable);

impl EphemeralTable {
    pub fn new(plan: LogicalPlan) -> Self {
        EphemeralTable(ViewTable::new(plan, None))
    }
}

#[async_trait]
impl TableProvider for EphemeralTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<std::sync::Arc<dyn ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }
}
