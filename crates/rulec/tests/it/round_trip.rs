//! Every rule's Substrait plan, consumed back into DataFusion, gives the same rows as
//! DataFusion executing the rule's SQL directly (differential check on the real data).

use crate::support::{compile, root, session_with_inputs};
use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use std::sync::Arc;

/// Rows as sorted strings: an order-independent multiset of the rows.
fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter<'_>> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for i in 0..batch.num_rows() {
            let cells: Vec<String> = formatters.iter().map(|f| f.value(i).to_string()).collect();
            rows.push(cells.join(" | "));
        }
    }
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substrait_round_trip_gives_the_same_rows_as_direct_execution() {
    let pack_dir = root().join("rules/cpg");
    let (pack, compiled) = compile(&pack_dir);
    let ctx = session_with_inputs(&pack, &pack_dir).await;
    assert_round_trip(&pack, &compiled, &ctx, &[]).await;
}

/// The TPC-H queries, on the tables generated in-process (SF 0.01).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_substrait_round_trip_gives_the_same_rows_as_direct_execution() {
    let (pack, compiled) = compile(&root().join("rules/tpch"));
    let ctx = datafusion::prelude::SessionContext::new_with_state(rulec_exec::runtime_session());
    for (name, table) in crate::execute::tpch_tables(&pack) {
        ctx.register_table(name.as_str(), table).expect("register");
    }
    // Every query returns rows at SF 0.01.
    assert_round_trip(&pack, &compiled, &ctx, &[]).await;
}

/// Every rule of `pack`, in order: its Substrait plan (encoded, decoded, consumed) gives the
/// rows its SQL gives executed directly in `ctx`, and rows at all unless it is one of
/// `empty`, which give none. Each rule's rows are registered for the rules that read it.
async fn assert_round_trip(
    pack: &rulec_pack::Pack,
    compiled: &rulec_compile::CompiledPack,
    ctx: &datafusion::prelude::SessionContext,
    empty: &[&str],
) {
    for rule in &pack.rules {
        let compiled_rule = compiled.rule(&rule.name).expect("compiled");
        let plan = compiled_rule
            .plan
            .as_ref()
            .unwrap_or_else(|| panic!("{}: {:?}", rule.name, compiled_rule.diagnostics));

        let direct = ctx
            .sql(&rule.text)
            .await
            .expect("direct plan")
            .collect()
            .await
            .expect("direct rows");

        let substrait = rulec_substrait::to_substrait(plan).expect("encodes");
        let bytes = rulec_substrait::encode(&substrait);
        let consumed = rulec_substrait::from_substrait(
            &ctx.state(),
            &rulec_substrait::decode(&bytes).expect("decodes"),
        )
        .await
        .expect("consumes");
        let via_substrait = ctx
            .execute_logical_plan(consumed)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("rows");

        let (a, b) = (sorted_rows(&direct), sorted_rows(&via_substrait));
        assert_eq!(a.len(), b.len(), "{}: row counts differ", rule.name);
        assert!(a == b, "{}: rows differ", rule.name);
        assert_eq!(
            a.is_empty(),
            empty.contains(&rule.name.as_str()),
            "{}: {} rows",
            rule.name,
            a.len()
        );

        // Downstream rules read this rule's rows.
        if let Some(schema) = direct.first().map(RecordBatch::schema) {
            let table = MemTable::try_new(schema, vec![direct]).expect("mem table");
            ctx.register_table(rule.name.as_str(), Arc::new(table))
                .expect("register");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_schemas_are_what_the_engine_reads() {
    // The plan is made from contracts; at run time the engine must read the same types
    // from the real files (utf8 is Arrow Utf8 at every level, lists and maps named as the
    // Parquet reader names them).
    let pack_dir = root().join("rules/cpg");
    let (pack, _) = compile(&pack_dir);
    let state = rulec_exec::runtime_session();
    let ctx = datafusion::prelude::SessionContext::new_with_state(state);
    for (table, path) in &pack.manifest.inputs {
        ctx.register_parquet(
            table.as_str(),
            pack_dir.join(path).to_str().expect("utf8"),
            Default::default(),
        )
        .await
        .expect("register");
        let read = ctx
            .table(table.as_str())
            .await
            .expect("table")
            .schema()
            .as_arrow()
            .clone();
        let contract = &pack.contracts[table].schema;
        assert_eq!(read.fields().len(), contract.fields().len(), "{table}");
        for (r, c) in read.fields().iter().zip(contract.fields()) {
            assert_eq!(
                (r.name(), r.data_type()),
                (c.name(), c.data_type()),
                "{table}"
            );
        }
    }
}
