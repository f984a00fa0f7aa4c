//! Slices of products: the plans `rulec_compile::slices::slice` makes, planned on tables of
//! the shapes products read.

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use rulec_compile::slices::slice;
use std::sync::Arc;

async fn plan(sql: &str) -> LogicalPlan {
    let ctx = SessionContext::new();
    let table = |columns: &[(&str, DataType)]| {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        ));
        Arc::new(MemTable::try_new(schema, vec![vec![]]).expect("table"))
    };
    for (name, columns) in [
        (
            "files",
            vec![("file_id", DataType::Int64), ("path", DataType::Utf8)],
        ),
        (
            "nodes",
            vec![
                ("file_id", DataType::Int64),
                ("id", DataType::Int64),
                ("kind", DataType::Utf8),
            ],
        ),
        (
            "edges",
            vec![("file_id", DataType::Int32), ("src", DataType::Int64)],
        ),
    ] {
        ctx.register_table(name, table(&columns)).expect("register");
    }
    ctx.sql(sql)
        .await
        .expect("sql")
        .into_optimized_plan()
        .expect("plan")
}

fn key(plan: &LogicalPlan) -> usize {
    plan.schema()
        .fields()
        .iter()
        .position(|f| f.name() == "file_id")
        .expect("a file_id column")
}

#[tokio::test]
async fn per_key_queries_get_a_slice_filter_on_every_scan() {
    for sql in [
        "SELECT f.file_id, f.path, n.ids, e.srcs FROM files AS f \
         LEFT JOIN (SELECT file_id, array_agg(id) AS ids FROM nodes GROUP BY file_id) AS n \
           ON n.file_id = f.file_id \
         LEFT JOIN (SELECT file_id, array_agg(src) AS srcs FROM edges GROUP BY file_id) AS e \
           ON e.file_id = f.file_id",
        "SELECT file_id, kind, count(*) AS n FROM nodes WHERE id > 3 GROUP BY kind, file_id",
        "SELECT file_id, id FROM nodes UNION ALL SELECT file_id, src FROM edges",
        "SELECT DISTINCT file_id, kind FROM nodes",
        "SELECT file_id, row_number() OVER (PARTITION BY file_id ORDER BY id) AS r FROM nodes",
        "SELECT n.file_id, e.src FROM nodes AS n JOIN edges AS e ON e.file_id = n.file_id",
        "SELECT file_id FROM nodes AS n WHERE EXISTS \
           (SELECT 1 FROM files AS f WHERE f.file_id = n.file_id)",
        "SELECT file_id, unnest(ids) AS id FROM \
           (SELECT file_id, array_agg(id) AS ids FROM nodes GROUP BY file_id)",
    ] {
        let plan = plan(sql).await;
        let scans = plan
            .display_indent()
            .to_string()
            .matches("TableScan")
            .count();
        assert!(scans > 0, "{sql}");
        for (index, count) in [(0, 4), (3, 4)] {
            let sliced = slice(&plan, key(&plan), index, count)
                .unwrap_or_else(|why| panic!("{sql}: refused: {why}"));
            let text = sliced.display_indent().to_string();
            let filter = format!("abs(CAST(file_id AS Int64) % Int64({count})) = Int64({index})");
            let filters = text
                .lines()
                .filter(|l| l.contains("% Int64(4)) = Int64(") || l.contains(&filter))
                .count();
            assert_eq!(filters, scans, "{sql}\n{text}");
            assert_eq!(text.contains("IS NULL"), index == 0, "{sql}\n{text}");
        }
    }
}

#[tokio::test]
async fn queries_across_keys_are_refused_with_the_reason() {
    for (sql, why) in [
        (
            "SELECT kind, min(file_id) AS file_id FROM nodes GROUP BY kind",
            "does not group by `file_id`",
        ),
        (
            "SELECT max(file_id) AS file_id FROM nodes",
            "does not group by",
        ),
        ("SELECT file_id FROM nodes LIMIT 5", "LIMIT"),
        ("SELECT file_id + 1 AS file_id FROM nodes", "computed"),
        (
            "SELECT n.file_id FROM nodes AS n FULL JOIN files AS f ON n.file_id = f.file_id",
            "Full join",
        ),
        (
            "SELECT n.file_id FROM nodes AS n JOIN edges AS e ON n.id = e.src",
            "not on `file_id`",
        ),
        (
            "SELECT n.file_id FROM files AS f LEFT JOIN nodes AS n ON n.file_id = f.file_id",
            "does not keep whole",
        ),
        (
            "SELECT file_id, row_number() OVER (ORDER BY id) AS r FROM nodes",
            "not partitioned by `file_id`",
        ),
        (
            "SELECT file_id FROM nodes WHERE file_id NOT IN (SELECT file_id FROM files)",
            "NOT IN",
        ),
    ] {
        let plan = plan(sql).await;
        match slice(&plan, key(&plan), 1, 4) {
            Ok(sliced) => panic!("{sql}: sliced\n{}", sliced.display_indent()),
            Err(message) => assert!(message.contains(why), "{sql}: {message}"),
        }
    }
}

/// Every row of the whole query is in exactly one slice, whatever the key's integer type
/// and value (the extremes, negative keys, NULL).
#[tokio::test]
async fn slices_partition_the_rows_whatever_the_key_type() {
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::common::ScalarValue as V;
    let keys: Vec<Vec<V>> = vec![
        vec![
            V::Int8(Some(i8::MIN)),
            V::Int8(Some(-1)),
            V::Int8(Some(0)),
            V::Int8(Some(5)),
            V::Int8(Some(i8::MAX)),
            V::Int8(None),
        ],
        vec![
            V::Int32(Some(i32::MIN)),
            V::Int32(Some(-7)),
            V::Int32(Some(3)),
            V::Int32(Some(i32::MAX)),
            V::Int32(None),
        ],
        vec![
            V::Int64(Some(i64::MIN)),
            V::Int64(Some(-7)),
            V::Int64(Some(0)),
            V::Int64(Some(3)),
            V::Int64(Some(i64::MAX)),
            V::Int64(None),
        ],
        vec![
            V::UInt8(Some(0)),
            V::UInt8(Some(1)),
            V::UInt8(Some(200)),
            V::UInt8(Some(u8::MAX)),
            V::UInt8(None),
        ],
        vec![
            V::UInt32(Some(0)),
            V::UInt32(Some(7)),
            V::UInt32(Some(u32::MAX)),
            V::UInt32(None),
        ],
        vec![
            V::UInt64(Some(0)),
            V::UInt64(Some(7)),
            V::UInt64(Some(u64::MAX)),
            V::UInt64(None),
        ],
    ];
    for values in keys {
        let data_type = values[0].data_type();
        // Each key twice, so that a count shows a row in two slices.
        let column = V::iter_to_array(values.iter().chain(&values).cloned()).expect("array");
        let schema = Arc::new(Schema::new(vec![Field::new(
            "file_id",
            data_type.clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column]).expect("batch");
        let ctx = SessionContext::new();
        let table = MemTable::try_new(schema, vec![vec![batch]]).expect("table");
        ctx.register_table("keys", Arc::new(table))
            .expect("register");
        let rows = |batches: Vec<RecordBatch>| -> Vec<String> {
            let options = FormatOptions::default().with_null("NULL");
            let mut rows = Vec::new();
            for batch in batches {
                let k = ArrayFormatter::try_new(batch.column(0), &options).expect("fmt");
                let n = ArrayFormatter::try_new(batch.column(1), &options).expect("fmt");
                rows.extend(
                    (0..batch.num_rows()).map(|i| format!("{} {}", k.value(i), n.value(i))),
                );
            }
            rows
        };
        let sql = "SELECT file_id, count(*) AS n FROM keys GROUP BY file_id";
        let whole = ctx
            .sql(sql)
            .await
            .expect("sql")
            .into_optimized_plan()
            .expect("plan");
        let mut expected = rows(
            ctx.execute_logical_plan(whole.clone())
                .await
                .expect("df")
                .collect()
                .await
                .expect("rows"),
        );
        expected.sort();
        assert_eq!(expected.len(), values.len(), "{data_type}");
        for count in [2, 3, 7] {
            let mut got = Vec::new();
            for index in 0..count {
                let sliced = slice(&whole, 0, index, count).expect("sliced");
                let what = format!("{data_type}, slice {index} of {count}");
                let df = ctx
                    .execute_logical_plan(sliced)
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let batches = df.collect().await.unwrap_or_else(|e| panic!("{what}: {e}"));
                got.extend(rows(batches));
            }
            got.sort();
            assert_eq!(got, expected, "{data_type}, {count} slices");
        }
    }
}
