-- Number of parent -> child edges per LibCST field name, over all files, and in how many
-- files the field occurs at all.
SELECT
  e.edge.attrs['field'] AS field,
  count(*) AS edge_count,
  count(DISTINCT e.file_id) AS file_count,
  max(CAST(e.edge.attrs['index'] AS BIGINT)) AS max_position
FROM (
  SELECT file_id, unnest(edges) AS edge
  FROM libcst_files
) AS e
GROUP BY e.edge.attrs['field']
