-- How often each plain name is called in each file: Call nodes, their `func` child edge,
-- and the libcst.Name at its end (a CTE chain over the unnested lists).
WITH calls AS (
  SELECT c.file_id, c.node.cst_id AS call_id
  FROM (SELECT file_id, unnest(nodes) AS node FROM libcst_files) AS c
  WHERE c.node.kind = 'libcst.Call'
),
func_edges AS (
  SELECT calls.file_id, calls.call_id, e.edge.dst AS func_id
  FROM calls
  JOIN (SELECT file_id, unnest(edges) AS edge FROM libcst_files) AS e
    ON e.file_id = calls.file_id AND e.edge.src = calls.call_id
  WHERE e.edge.attrs['field'] = 'func'
),
callees AS (
  SELECT f.file_id, n.node.attrs['value'] AS callee
  FROM func_edges AS f
  JOIN (SELECT file_id, unnest(nodes) AS node FROM libcst_files) AS n
    ON n.file_id = f.file_id AND n.node.cst_id = f.func_id
  WHERE n.node.kind = 'libcst.Name'
)
SELECT file_id, callee, count(*) AS call_count
FROM callees
GROUP BY file_id, callee
