-- One row per file: the file's graph nodes and edges as lists of structs.
WITH nodes_by_file AS (
  SELECT
    file_id,
    array_agg(named_struct('node_id', node_id, 'kind', kind, 'span', span)
      ORDER BY node_id.namespace, node_id.local_id) AS nodes
  FROM cpg_nodes
  GROUP BY file_id
),
edges_by_file AS (
  SELECT
    file_id,
    array_agg(named_struct('kind', kind, 'src', src, 'dst', dst)
      ORDER BY kind, src.namespace, src.local_id, dst.namespace, dst.local_id) AS edges
  FROM cpg_edges
  GROUP BY file_id
)
SELECT
  f.file_id,
  f.path,
  n.nodes,
  e.edges
FROM libcst_files AS f
LEFT JOIN nodes_by_file AS n ON n.file_id = f.file_id
LEFT JOIN edges_by_file AS e ON e.file_id = f.file_id
