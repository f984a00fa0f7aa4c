-- The distinct (parent kind, field, child kind) triples of the syntax trees, from the edge
-- rows and the node rows (a rule over two other rules).
SELECT DISTINCT
  p.kind AS parent_kind,
  e.field,
  c.kind AS child_kind
FROM edge_rows AS e
JOIN node_rows AS p ON p.file_id = e.file_id AND p.cst_id = e.src
JOIN node_rows AS c ON c.file_id = e.file_id AND c.cst_id = e.dst
WHERE c.kind NOT LIKE '%Whitespace' AND c.kind <> 'libcst.Newline'
