-- Function parameters: symbols flagged is_parameter in each symtable block (blocks, then
-- their symbols), with whether the parameter is annotated.
SELECT
  s.file_id,
  s.block.block_id AS block_id,
  s.block.name AS function_name,
  s.symbol.name AS parameter_name,
  s.symbol.flags.is_annotated AS is_annotated,
  s.symbol.flags.is_referenced AS is_referenced
FROM (
  SELECT b.file_id, b.block, unnest(b.block.symbols) AS symbol
  FROM (
    SELECT file_id, unnest(blocks) AS block
    FROM symtable_files
  ) AS b
) AS s
WHERE s.symbol.flags.is_parameter = true
