-- One row per LibCST parent -> child edge. `field` is the LibCST dataclass field holding
-- the child and `position` its index inside that field (0 for single-node fields).
SELECT
  f.file_id,
  f.path,
  f.edge.src AS src,
  f.edge.dst AS dst,
  f.edge.kind AS kind,
  f.edge.attrs['field'] AS field,
  CAST(f.edge.attrs['index'] AS BIGINT) AS position
FROM (
  SELECT file_id, path, unnest(edges) AS edge
  FROM libcst_files
) AS f
