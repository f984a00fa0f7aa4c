-- Every graph edge in one shape: LibCST parent -> child edges (kind 'libcst.child') and
-- bridge edges from a LibCST node to the SCIP occurrence with its span ('cpg.cst_scip').
SELECT
  'libcst.' || kind AS kind,
  named_struct('namespace', 'libcst', 'file_id', file_id, 'local_id', src) AS src,
  named_struct('namespace', 'libcst', 'file_id', file_id, 'local_id', dst) AS dst,
  file_id,
  map(['field', 'index'], [field, CAST(position AS VARCHAR)]) AS attrs
FROM libcst_edges
UNION ALL
SELECT
  'cpg.cst_scip' AS kind,
  named_struct('namespace', 'libcst', 'file_id', file_id, 'local_id', cst_id) AS src,
  named_struct('namespace', 'scip', 'file_id', file_id, 'local_id', occurrence_id) AS dst,
  file_id,
  map(['symbol', 'node_kind'], [symbol, node_kind]) AS attrs
FROM cpg_bridge_cst_scip
