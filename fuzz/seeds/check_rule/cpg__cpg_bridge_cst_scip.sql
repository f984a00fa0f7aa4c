-- Bridge edges: a libcst.Name or libcst.Attribute node and a SCIP occurrence of the same
-- file with exactly the same span.
SELECT
  n.file_id,
  n.path,
  n.cst_id,
  n.kind AS node_kind,
  o.occurrence_id,
  o.symbol,
  o.symbol_roles,
  n.span
FROM libcst_nodes AS n
JOIN scip_occurrence_spans AS o
  ON n.file_id = o.file_id
  AND n.path = o.path
  AND n.span.start.line0 = o.span.start.line0
  AND n.span.start.col = o.span.start.col
  AND n.span."end".line0 = o.span."end".line0
  AND n.span."end".col = o.span."end".col
WHERE n.kind IN ('libcst.Name', 'libcst.Attribute')
