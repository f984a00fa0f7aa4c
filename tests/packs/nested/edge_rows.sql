-- One row per LibCST parent -> child edge, with the field name and position read from the
-- edge's attrs map.
SELECT
  e.file_id,
  e.edge.src AS src,
  e.edge.dst AS dst,
  e.edge.kind AS edge_kind,
  e.edge.attrs['field'] AS field,
  CAST(e.edge.attrs['index'] AS BIGINT) AS position
FROM (
  SELECT file_id, unnest(edges) AS edge
  FROM libcst_files
) AS e
