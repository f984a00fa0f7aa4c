//! Equivalent spellings as pairs of queries: each pair must share a fingerprint, and each
//! pair that differs in meaning must not. Nested pairs over the CPG contracts (the issue's
//! cases: fields outside subqueries, CTE chains, lateral unnest, span fields flattened
//! before joins, NULL-padded sides), flat ones over TPC-H (DISTINCT, `coalesce`,
//! comparisons, USING, join order and grouping, self-joins, semi joins).

use crate::canonical::{Subject, subject};

#[test]
fn equivalent_spellings_share_a_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let s = subject("tpch");
        let pairs = [
            (
                "SELECT count(*) AS n FROM orders",
                "SELECT count(1) AS n FROM orders",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE o_orderstatus != 'F'",
                "SELECT o_orderkey FROM orders WHERE o_orderstatus <> 'F'",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE NOT (o_totalprice > 100)",
                "SELECT o_orderkey FROM orders WHERE o_totalprice <= 100",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE o_custkey BETWEEN 10 AND 20",
                "SELECT o_orderkey FROM orders WHERE 20 >= o_custkey AND o_custkey >= 10",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE o_custkey IN (3, 1, 2, 1)",
                "SELECT o_orderkey FROM orders WHERE o_custkey IN (1, 2, 3)",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE (o_custkey = 1 AND o_shippriority = 0) \
                 OR (o_custkey = 1 AND o_orderstatus = 'F')",
                "SELECT o_orderkey FROM orders WHERE o_custkey = 1 \
                 AND (o_orderstatus = 'F' OR o_shippriority = 0)",
            ),
            (
                "SELECT o.o_orderkey FROM orders o JOIN customer c ON o.o_custkey = c.c_custkey \
                 WHERE c.c_nationkey = 3",
                "WITH cust AS (SELECT * FROM customer) SELECT x.o_orderkey \
                 FROM orders AS x, cust WHERE 3 = cust.c_nationkey AND cust.c_custkey = x.o_custkey",
            ),
        ];
        for (a, b) in pairs {
            let (fa, fb) = (s.fingerprint_of("q01", a), s.fingerprint_of("q01", b));
            assert!(fa.is_ok(), "{a}: {fa:?}");
            assert_eq!(fa, fb, "\n{a}\n{b}\n{}", s.encoding_diff("q01", a, b));
        }
        // And a one-character change of a literal moves it.
        assert_ne!(
            s.fingerprint_of("q01", "SELECT o_orderkey FROM orders WHERE o_custkey = 12"),
            s.fingerprint_of("q01", "SELECT o_orderkey FROM orders WHERE o_custkey = 13"),
        );
    });
}

/// Asserts that each pair shares a fingerprint (planned as `rule` of `s`), and that each
/// pair of `different` does not.
fn assert_pairs(s: &Subject, rule: &str, same: &[(&str, &str)], different: &[(&str, &str)]) {
    for (a, b) in same {
        let (fa, fb) = (s.fingerprint_of(rule, a), s.fingerprint_of(rule, b));
        assert!(fa.is_ok(), "{a}: {fa:?}");
        assert_eq!(fa, fb, "\n{a}\n{b}\n{}", s.encoding_diff(rule, a, b));
    }
    for (a, b) in different {
        let (fa, fb) = (s.fingerprint_of(rule, a), s.fingerprint_of(rule, b));
        assert!(fa.is_ok() && fb.is_ok(), "{a}: {fa:?}\n{b}: {fb:?}");
        assert_ne!(fa, fb, "\n{a}\n{b}");
    }
}

#[test]
fn nested_spellings_share_a_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let s = subject("nested");
        let nodes = "(SELECT file_id, unnest(nodes) AS node FROM libcst_files)";
        let direct = format!(
            "SELECT file_id, node.kind AS kind, node.cst_id AS id FROM {nodes} \
             WHERE node.kind = 'libcst.Name'"
        );
        let join = "SELECT n.file_id, n.node.cst_id AS cst_id, o.symbol \
             FROM (SELECT file_id, unnest(nodes) AS node FROM libcst_files) AS n \
             JOIN scip_occurrences AS o ON n.file_id = o.document_id \
             AND n.node.span.start.line0 = o.start_line AND n.node.span.start.col = o.start_char";
        let same = [
            // A field selected in a subquery and filtered outside.
            (
                direct.clone(),
                format!(
                    "SELECT file_id, kind, id FROM (SELECT file_id, node.kind AS kind, \
                     node.cst_id AS id FROM {nodes}) WHERE kind = 'libcst.Name'"
                ),
            ),
            // A CTE chain, bracket and get_field access.
            (
                direct.clone(),
                format!(
                    "WITH n AS {nodes}, k AS (SELECT file_id, node['kind'] AS kind, \
                     get_field(node, 'cst_id') AS id FROM n) \
                     SELECT file_id, kind, id FROM k WHERE kind = 'libcst.Name'"
                ),
            ),
            // The lateral forms.
            (
                direct.clone(),
                "SELECT f.file_id, x.kind AS kind, x.cst_id AS id FROM libcst_files f \
                 CROSS JOIN unnest(f.nodes) AS u(x) WHERE x.kind = 'libcst.Name'"
                    .to_owned(),
            ),
            (
                direct.clone(),
                "SELECT f.file_id, u.x.kind AS kind, u.x.cst_id AS id \
                 FROM libcst_files AS f, unnest(f.nodes) AS u(x) WHERE u.x.kind = 'libcst.Name'"
                    .to_owned(),
            ),
            // Span fields flattened into columns before the join, or a prefix of the path.
            (
                join.to_owned(),
                format!(
                    "SELECT n.file_id, n.cst_id, o.symbol FROM (SELECT file_id, \
                     node.cst_id AS cst_id, node.span.start.line0 AS line0, \
                     node.span.start.col AS col FROM {nodes}) AS n JOIN scip_occurrences AS o \
                     ON n.file_id = o.document_id AND n.line0 = o.start_line AND n.col = o.start_char"
                ),
            ),
            (
                join.to_owned(),
                format!(
                    "SELECT n.file_id, n.cst_id, o.symbol FROM (SELECT file_id, \
                     node.cst_id AS cst_id, node.span AS sp FROM {nodes}) AS n \
                     JOIN scip_occurrences AS o ON n.file_id = o.document_id \
                     AND n.sp.start.line0 = o.start_line AND n.sp['start']['col'] = o.start_char"
                ),
            ),
            // A path on a left join's NULL-padded side, taken apart before the join or after.
            (
                format!(
                    "SELECT o.symbol, n.node.span.start.line0 + 1 AS l FROM scip_occurrences o \
                     LEFT JOIN {nodes} n ON n.file_id = o.document_id"
                ),
                format!(
                    "SELECT o.symbol, n.l + 1 AS l FROM scip_occurrences o LEFT JOIN \
                     (SELECT file_id, node.span.start.line0 AS l FROM {nodes}) n \
                     ON n.file_id = o.document_id"
                ),
            ),
            // The join's sides in the other order.
            (
                join.to_owned(),
                format!(
                    "SELECT n.file_id, n.node.cst_id AS cst_id, o.symbol FROM scip_occurrences AS o \
                     JOIN {nodes} AS n ON n.file_id = o.document_id \
                     AND n.node.span.start.line0 = o.start_line AND n.node.span.start.col = o.start_char"
                ),
            ),
        ];
        let different = [
            (
                direct.clone(),
                direct.replace("'libcst.Name'", "'libcst.Names'"),
            ),
            (join.to_owned(), join.replace("o.start_char", "o.end_char")),
            (join.to_owned(), join.replace("start.col", "\"end\".col")),
            // An outer join's NULL-padded side is not the value it was before the join.
            (
                format!(
                    "SELECT o.symbol, n.k FROM scip_occurrences o LEFT JOIN \
                     (SELECT file_id, coalesce(node.kind, 'none') AS k FROM {nodes}) n \
                     ON n.file_id = o.document_id"
                ),
                format!(
                    "SELECT o.symbol, coalesce(n.node.kind, 'none') AS k FROM scip_occurrences o \
                     LEFT JOIN {nodes} n ON n.file_id = o.document_id"
                ),
            ),
            // A constant on the NULL-padded side is NULL on padded rows.
            (
                format!(
                    "SELECT o.symbol, n.one AS l FROM scip_occurrences o LEFT JOIN \
                     (SELECT file_id, 1 AS one FROM {nodes}) n ON n.file_id = o.document_id"
                ),
                format!(
                    "SELECT o.symbol, 1 AS l FROM scip_occurrences o LEFT JOIN {nodes} n \
                     ON n.file_id = o.document_id"
                ),
            ),
        ];
        let same: Vec<(&str, &str)> = same.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let different: Vec<(&str, &str)> = different
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_pairs(&s, "node_rows", &same, &different);
    });
}

#[test]
fn flat_equivalences_share_a_fingerprint() {
    rulec_compile::with_planning_stack(|| {
        let s = subject("tpch");
        let same = [
            (
                "SELECT DISTINCT n_name, n_regionkey FROM nation",
                "SELECT n_name, n_regionkey FROM nation GROUP BY n_regionkey, n_name",
            ),
            (
                "SELECT CASE WHEN nullif(c_phone, '') IS NULL THEN 'none' \
                 ELSE nullif(c_phone, '') END AS p FROM customer",
                "SELECT coalesce(nullif(c_phone, ''), 'none') AS p FROM customer",
            ),
            (
                "SELECT n_name FROM nation WHERE NOT (n_nationkey >= 10)",
                "SELECT n_name FROM nation WHERE n_nationkey <= 9",
            ),
            (
                "SELECT n_name FROM nation WHERE n_nationkey > 9",
                "SELECT n_name FROM nation WHERE 10 <= n_nationkey",
            ),
            (
                "SELECT n.n_name, r.r_name FROM nation n JOIN region r \
                 ON n.n_regionkey = r.r_regionkey",
                "SELECT n.n_name, r.r_name FROM nation n \
                 JOIN (SELECT r_regionkey AS n_regionkey, r_name FROM region) r USING (n_regionkey)",
            ),
            (
                "SELECT n.n_regionkey FROM nation n JOIN region r ON n.n_regionkey = r.r_regionkey",
                "SELECT r.r_regionkey AS n_regionkey FROM nation n JOIN region r \
                 ON n.n_regionkey = r.r_regionkey",
            ),
            (
                "SELECT s.a, s.b FROM (SELECT n_name, n_nationkey FROM nation) AS s(a, b)",
                "WITH z(a, b) AS (SELECT n_name AS x, n_nationkey AS y FROM nation) \
                 SELECT a, b FROM z",
            ),
            (
                "SELECT n_name, r_name FROM (SELECT * FROM nation WHERE n_nationkey > 3) n \
                 LEFT JOIN region r ON n_regionkey = r_regionkey",
                "SELECT n_name, r_name FROM nation n LEFT JOIN region r \
                 ON n_regionkey = r_regionkey WHERE n_nationkey > 3",
            ),
            (
                "WITH c AS (SELECT ps_availqty * ps_supplycost AS p, ps_availqty AS q FROM partsupp) \
                 SELECT p + q AS r FROM c",
                "SELECT ps_availqty * ps_supplycost + ps_availqty AS r FROM partsupp",
            ),
            (
                "SELECT one, count(*) AS n FROM (SELECT 1 AS one, n_name FROM nation) GROUP BY one",
                "SELECT 1 AS one, count(*) AS n FROM nation GROUP BY 1",
            ),
            // Inner joins in any order and grouping.
            (
                "SELECT n_name, r_name, s_name FROM nation JOIN region ON n_regionkey = r_regionkey \
                 JOIN supplier ON s_nationkey = n_nationkey",
                "SELECT n_name, r_name, s_name FROM supplier JOIN \
                 (nation JOIN region ON n_regionkey = r_regionkey) ON s_nationkey = n_nationkey",
            ),
            (
                "SELECT n_name, r_name, s_name FROM nation JOIN region ON n_regionkey = r_regionkey \
                 JOIN supplier ON s_nationkey = n_nationkey",
                "SELECT n_name, r_name, s_name FROM supplier, region, nation \
                 WHERE n_regionkey = r_regionkey AND s_nationkey = n_nationkey",
            ),
            // A self-join whose two copies swap places.
            (
                "SELECT a.n_name AS p, b.n_name AS q FROM nation a JOIN nation b \
                 ON a.n_regionkey = b.n_nationkey",
                "SELECT a.n_name AS p, b.n_name AS q FROM nation b JOIN nation a \
                 ON a.n_regionkey = b.n_nationkey",
            ),
            // Semi joins applied in either order (one inside a derived table).
            (
                "SELECT o.o_orderkey FROM (SELECT * FROM orders WHERE EXISTS \
                 (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey)) o \
                 WHERE o.o_custkey IN (SELECT c_custkey FROM customer WHERE c_nationkey = 3)",
                "SELECT o.o_orderkey FROM (SELECT * FROM orders WHERE o_custkey IN \
                 (SELECT c_custkey FROM customer WHERE c_nationkey = 3)) o \
                 WHERE EXISTS (SELECT 1 FROM lineitem WHERE l_orderkey = o.o_orderkey)",
            ),
        ];
        let different = [
            (
                "SELECT n_name FROM nation WHERE n_nationkey < 10",
                "SELECT n_name FROM nation WHERE n_nationkey <= 10",
            ),
            (
                "SELECT c_name FROM customer WHERE c_acctbal < 10",
                "SELECT c_name FROM customer WHERE c_acctbal <= 9",
            ),
            (
                "SELECT coalesce(nullif(c_phone, ''), 'none') AS p FROM customer",
                "SELECT coalesce(nullif(c_phone, ''), 'nothing') AS p FROM customer",
            ),
            (
                "SELECT n.n_regionkey FROM nation n LEFT JOIN region r \
                 ON n.n_regionkey = r.r_regionkey",
                "SELECT r.r_regionkey AS n_regionkey FROM nation n LEFT JOIN region r \
                 ON n.n_regionkey = r.r_regionkey",
            ),
            (
                "SELECT n_name, r_name, s_name FROM supplier, region, nation \
                 WHERE n_regionkey = r_regionkey AND s_nationkey = n_nationkey",
                "SELECT n_name, r_name, s_name FROM supplier, region, nation \
                 WHERE n_regionkey = r_regionkey AND s_suppkey = n_nationkey",
            ),
            // The two sides of a self-join stay apart.
            (
                "SELECT a.n_name, b.n_name AS m FROM nation a JOIN nation b \
                 ON a.n_regionkey = b.n_nationkey",
                "SELECT a.n_name, b.n_name AS m FROM nation a JOIN nation b \
                 ON a.n_nationkey = b.n_regionkey",
            ),
            (
                "SELECT o_orderkey FROM orders WHERE EXISTS \
                 (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey) \
                 AND o_custkey IN (SELECT c_custkey FROM customer WHERE c_nationkey = 3)",
                "SELECT o_orderkey FROM orders WHERE NOT EXISTS \
                 (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey) \
                 AND o_custkey IN (SELECT c_custkey FROM customer WHERE c_nationkey = 3)",
            ),
            (
                "SELECT n_name, r_name FROM nation n LEFT JOIN region r \
                 ON n_regionkey = r_regionkey AND r_regionkey > 3",
                "SELECT n_name, r_name FROM nation n LEFT JOIN region r \
                 ON n_regionkey = r_regionkey WHERE r_regionkey > 3",
            ),
        ];
        assert_pairs(&s, "q01", &same, &different);
    });
}
