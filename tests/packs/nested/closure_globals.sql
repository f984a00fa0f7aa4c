-- Names that function blocks read but neither bind nor receive as parameters (globals and
-- free variables): filters on the block layer and on the symbol's flags.
SELECT
  s.file_id,
  s.block.name AS function_name,
  s.block.lineno1 AS function_lineno1,
  s.symbol.name AS symbol_name,
  CASE WHEN s.symbol.flags.is_free THEN 'free' ELSE 'global' END AS binding
FROM (
  SELECT b.file_id, b.block, unnest(b.block.symbols) AS symbol
  FROM (
    SELECT file_id, unnest(blocks) AS block
    FROM symtable_files
  ) AS b
  WHERE b.block.block_type = 'function'
) AS s
WHERE s.symbol.flags.is_referenced
  AND NOT s.symbol.flags.is_assigned
  AND NOT s.symbol.flags.is_parameter
  AND NOT s.symbol.flags.is_imported
