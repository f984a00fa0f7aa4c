-- Function definitions ranked by length (lines spanned) within their file, longest first,
-- with the file's number of function definitions.
SELECT
  d.file_id,
  d.node.cst_id AS cst_id,
  d.node.attrs['name'] AS function_name,
  d.node.span."end".line0 - d.node.span.start.line0 + 1 AS line_count,
  rank() OVER (
    PARTITION BY d.file_id
    ORDER BY d.node.span."end".line0 - d.node.span.start.line0 DESC
  ) AS length_rank,
  count(*) OVER (PARTITION BY d.file_id) AS functions_in_file
FROM (
  SELECT file_id, unnest(nodes) AS node
  FROM libcst_files
) AS d
WHERE d.node.kind = 'libcst.FunctionDef'
