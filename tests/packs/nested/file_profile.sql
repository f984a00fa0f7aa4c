-- One row per file: its path, node count, function count and symtable block count,
-- gathered from node_kind_counts and the symtable block list.
SELECT
  f.file_id,
  f.path,
  k.node_count,
  coalesce(d.function_count, 0) AS function_count,
  cardinality(s.blocks) AS block_count
FROM libcst_files AS f
JOIN (
  SELECT file_id, sum(node_count) AS node_count
  FROM node_kind_counts
  GROUP BY file_id
) AS k ON k.file_id = f.file_id
LEFT JOIN (
  SELECT file_id, node_count AS function_count
  FROM node_kind_counts
  WHERE kind = 'libcst.FunctionDef'
) AS d ON d.file_id = f.file_id
JOIN symtable_files AS s ON s.file_id = f.file_id
