-- SCIP occurrences with a span struct of the same shape as LibCST spans, and an
-- occurrence id that is unique within its file (document order, ties broken by content).
SELECT
  document_id AS file_id,
  path,
  CAST(row_number() OVER (
    PARTITION BY document_id
    ORDER BY start_line, start_char, end_line, end_char, symbol, symbol_roles
  ) AS BIGINT) - 1 AS occurrence_id,
  symbol,
  symbol_roles,
  named_struct(
    'start', named_struct('line0', start_line, 'col', start_char),
    'end', named_struct('line0', end_line, 'col', end_char)
  ) AS span
FROM scip_occurrences
