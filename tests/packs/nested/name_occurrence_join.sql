-- libcst.Name nodes joined to the SCIP occurrences that start at the same file, line and
-- column (a join on nested span fields).
SELECT
  n.file_id,
  n.node.cst_id AS cst_id,
  n.node.attrs['value'] AS identifier,
  o.symbol,
  o.symbol_roles,
  o.end_char - o.start_char AS occurrence_width
FROM (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS n
JOIN scip_occurrences AS o
  ON o.document_id = n.file_id
  AND o.start_line = n.node.span.start.line0
  AND o.start_char = n.node.span.start.col
WHERE n.node.kind = 'libcst.Name'
