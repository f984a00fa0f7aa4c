-- Distinct modules named by `from ... import` statements, per file (DISTINCT over a map
-- value, nulls for relative imports replaced).
SELECT DISTINCT
  i.file_id,
  coalesce(i.node.attrs['module'], '.') AS module_name
FROM (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS i
WHERE i.node.kind = 'libcst.ImportFrom'
