-- The distinct identifiers spelled by libcst.Name nodes in each file (get_field access to
-- the node's kind and attrs).
SELECT DISTINCT
  n.file_id,
  get_field(n.node, 'attrs')['value'] AS identifier
FROM (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS n
WHERE get_field(n.node, 'kind') = 'libcst.Name'
