-- symtable function blocks matched to the LibCST FunctionDef with the same name whose
-- span covers the block's line (symtable lines are 1-based, LibCST lines 0-based).
SELECT
  b.file_id,
  b.block.block_id AS block_id,
  b.block.name AS function_name,
  d.node.cst_id AS cst_id,
  d.node.span.start.line0 AS def_line0
FROM (
  SELECT file_id, unnest(blocks) AS block
  FROM symtable_files
) AS b
JOIN (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS d
  ON d.file_id = b.file_id
  AND d.node.attrs['name'] = b.block.name
WHERE b.block.block_type = 'function'
  AND d.node.kind = 'libcst.FunctionDef'
  AND b.block.lineno1 - 1 BETWEEN d.node.span.start.line0 AND d.node.span."end".line0
