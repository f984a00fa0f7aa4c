-- Per symtable block type: files, blocks, symbols, parameters and locals (aggregates
-- grouped by a nested block field, conditional counts over symbol flags).
SELECT
  s.block.block_type AS block_type,
  count(DISTINCT s.file_id) AS file_count,
  count(DISTINCT concat(CAST(s.file_id AS VARCHAR), ':', CAST(s.block.block_id AS VARCHAR)))
    AS block_count,
  count(*) AS symbol_count,
  sum(CASE WHEN s.symbol.flags.is_parameter THEN 1 ELSE 0 END) AS parameter_count,
  sum(CASE WHEN s.symbol.flags.is_local THEN 1 ELSE 0 END) AS local_count
FROM (
  SELECT b.file_id, b.block, unnest(b.block.symbols) AS symbol
  FROM (
    SELECT file_id, unnest(blocks) AS block
    FROM symtable_files
  ) AS b
) AS s
GROUP BY s.block.block_type
