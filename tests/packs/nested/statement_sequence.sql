-- Simple statement lines numbered in source order within their file, with the kind and
-- start line of the previous one (windows over unnested nodes).
SELECT
  s.file_id,
  s.cst_id,
  s.start_line0,
  row_number() OVER (PARTITION BY s.file_id ORDER BY s.cst_id) AS statement_no,
  lag(s.start_line0) OVER (PARTITION BY s.file_id ORDER BY s.cst_id) AS previous_line0,
  count(*) OVER (PARTITION BY s.file_id) AS statements_in_file
FROM (
  SELECT
    n.file_id,
    n.node.cst_id AS cst_id,
    n.node.span.start.line0 AS start_line0
  FROM (
    SELECT file_id, unnest(nodes) AS node
    FROM libcst_files
  ) AS n
  WHERE n.node.kind = 'libcst.SimpleStatementLine'
) AS s
