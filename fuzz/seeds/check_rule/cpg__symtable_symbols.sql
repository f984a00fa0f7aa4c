-- One row per symbol per symtable scope (block): a two-level unnest, blocks then symbols.
SELECT
  s.file_id,
  s.path,
  s.block.block_id AS block_id,
  s.block.parent_block_id AS parent_block_id,
  s.block.block_type AS block_type,
  s.block.name AS block_name,
  s.block.lineno1 AS block_lineno1,
  s.symbol.name AS symbol_name,
  s.symbol.flags AS flags,
  s.symbol.attrs AS attrs
FROM (
  SELECT b.file_id, b.path, b.block, unnest(b.block.symbols) AS symbol
  FROM (
    SELECT file_id, path, unnest(blocks) AS block
    FROM symtable_files
  ) AS b
) AS s
