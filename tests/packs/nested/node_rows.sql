-- One row per LibCST node with its span flattened to four columns and its `value` attribute
-- (dot access on the unnested struct, map access on its attrs).
SELECT
  f.file_id,
  f.path,
  f.node.cst_id AS cst_id,
  f.node.kind AS kind,
  f.node.span.start.line0 AS start_line0,
  f.node.span.start.col AS start_col,
  f.node.span."end".line0 AS end_line0,
  f.node.span."end".col AS end_col,
  f.node.attrs['value'] AS value
FROM (
  SELECT file_id, path, unnest(nodes) AS node
  FROM libcst_files
) AS f
