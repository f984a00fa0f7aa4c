-- libcst.Name nodes at which SCIP records a definition (symbol_roles bit 1): a correlated
-- EXISTS on the node's start position.
SELECT
  n.file_id,
  n.cst_id,
  n.identifier,
  n.line0
FROM (
  SELECT
    u.file_id,
    u.node.cst_id AS cst_id,
    u.node.attrs['value'] AS identifier,
    u.node.span.start.line0 AS line0,
    u.node.span.start.col AS col
  FROM (SELECT file_id, unnest(nodes) AS node FROM libcst_files) AS u
  WHERE u.node.kind = 'libcst.Name'
) AS n
WHERE EXISTS (
  SELECT 1
  FROM scip_occurrences AS o
  WHERE o.document_id = n.file_id
    AND o.start_line = n.line0
    AND o.start_char = n.col
    AND (o.symbol_roles & 1) = 1
)
