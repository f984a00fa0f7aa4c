-- Function and class definitions with a size class and a display name (CASE and coalesce
-- over nested span fields and attrs).
SELECT
  d.file_id,
  d.node.cst_id AS cst_id,
  CASE d.node.kind WHEN 'libcst.ClassDef' THEN 'class' ELSE 'function' END AS definition_kind,
  coalesce(d.node.attrs['name'], '<unnamed>') AS display_name,
  CASE
    WHEN d.node.span."end".line0 - d.node.span.start.line0 >= 50 THEN 'large'
    WHEN d.node.span."end".line0 - d.node.span.start.line0 >= 10 THEN 'medium'
    ELSE 'small'
  END AS size_class
FROM (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS d
WHERE d.node.kind IN ('libcst.FunctionDef', 'libcst.ClassDef')
