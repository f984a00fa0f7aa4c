-- Number of LibCST nodes of each kind in each file (grouped by a bracket-accessed struct
-- field of the unnested node).
SELECT
  n.file_id,
  n.node['kind'] AS kind,
  count(*) AS node_count
FROM (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS n
GROUP BY n.file_id, n.node['kind']
