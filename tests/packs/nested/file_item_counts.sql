-- Per file: how many nodes and how many edges it has, from one UNION ALL of the two
-- unnested lists.
WITH items AS (
  SELECT n.file_id, 'node' AS item, n.node.kind AS label
  FROM (SELECT file_id, unnest(nodes) AS node FROM libcst_files) AS n
  UNION ALL
  SELECT e.file_id, 'edge' AS item, e.edge.attrs['field'] AS label
  FROM (SELECT file_id, unnest(edges) AS edge FROM libcst_files) AS e
)
SELECT
  file_id,
  item,
  count(*) AS item_count,
  count(DISTINCT label) AS label_count
FROM items
GROUP BY file_id, item
