-- libcst.Name nodes that no SCIP occurrence starts at (an anti join with NOT EXISTS), e.g.
-- keyword argument names and attribute names.
SELECT
  n.file_id,
  n.cst_id,
  n.value AS identifier,
  n.start_line0,
  n.start_col
FROM node_rows AS n
WHERE n.kind = 'libcst.Name'
  AND NOT EXISTS (
    SELECT 1
    FROM scip_occurrences AS o
    WHERE o.document_id = n.file_id
      AND o.start_line = n.start_line0
      AND o.start_char = n.start_col
  )
