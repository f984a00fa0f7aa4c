-- libcst.Name nodes only, from node_rows: identifier and start position.
SELECT
  file_id,
  cst_id,
  value AS identifier,
  start_line0,
  start_col,
  end_col - start_col AS width
FROM node_rows
WHERE kind = 'libcst.Name'
