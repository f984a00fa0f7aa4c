-- One row per file: the file's graph nodes and edges as lists of structs.
--
-- Each list is sorted whole with array_sort: a struct sorts field by field, so nodes come in
-- (namespace, file_id, local_id) order and edges in (kind, src, dst) order, the file id being
-- the same throughout a file. (An ordered `array_agg(... ORDER BY ...)` gives the same lists,
-- but DataFusion 55.2 keeps every value of an ordered aggregate as a separate scalar: at 16
-- times the bundled data that took minutes and gigabytes.)
WITH nodes_by_file AS (
  SELECT
    file_id,
    array_sort(array_agg(named_struct('node_id', node_id, 'kind', kind, 'span', span))) AS nodes
  FROM cpg_nodes
  GROUP BY file_id
),
edges_by_file AS (
  SELECT
    file_id,
    array_sort(array_agg(named_struct('kind', kind, 'src', src, 'dst', dst))) AS edges
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
