-- Every graph node in one shape: LibCST nodes (namespace 'libcst', local id = cst_id)
-- and SCIP occurrences (namespace 'scip', local id = occurrence_id).
SELECT
  named_struct('namespace', 'libcst', 'file_id', file_id, 'local_id', cst_id) AS node_id,
  file_id,
  path,
  kind,
  span,
  attrs
FROM libcst_nodes
UNION ALL
SELECT
  named_struct('namespace', 'scip', 'file_id', file_id, 'local_id', occurrence_id) AS node_id,
  file_id,
  path,
  'scip.Occurrence' AS kind,
  span,
  map(
    ['symbol', 'symbol_roles'],
    [symbol, CAST(symbol_roles AS VARCHAR)]
  ) AS attrs
FROM scip_occurrence_spans
