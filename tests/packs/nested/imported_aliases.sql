-- Import aliases whose bound name symtable reports as imported in the module block (an
-- uncorrelated IN subquery over a two-level unnest).
SELECT
  a.file_id,
  a.node.cst_id AS cst_id,
  a.node.attrs['name'] AS imported_name,
  a.node.attrs['asname'] AS alias
FROM (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS a
WHERE a.node.kind = 'libcst.ImportAlias'
  AND a.node.attrs['name'] IN (
    SELECT s.symbol.name
    FROM (
      SELECT b.block, unnest(b.block.symbols) AS symbol
      FROM (SELECT unnest(blocks) AS block FROM symtable_files) AS b
    ) AS s
    WHERE s.symbol.flags.is_imported AND s.block.block_type = 'module'
  )
