-- One row per LibCST node: its file, its pre-order id within the file, its kind, its
-- syntactic span (0-based lines, UTF-8 byte columns, end-exclusive) and its attributes.
SELECT
  f.file_id,
  f.path,
  f.node.cst_id AS cst_id,
  f.node.kind AS kind,
  f.node.span AS span,
  f.node.attrs AS attrs
FROM (
  SELECT file_id, path, unnest(nodes) AS node
  FROM libcst_files
) AS f
