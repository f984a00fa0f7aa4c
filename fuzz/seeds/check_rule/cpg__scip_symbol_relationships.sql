-- One row per relationship between two SCIP symbols (implementation, type definition,
-- reference, definition), from the symbol table's relationship lists.
SELECT
  r.symbol,
  r.relationship.symbol AS related_symbol,
  r.relationship.is_reference AS is_reference,
  r.relationship.is_implementation AS is_implementation,
  r.relationship.is_type_definition AS is_type_definition,
  r.relationship.is_definition AS is_definition
FROM (
  SELECT symbol, unnest(relationships) AS relationship
  FROM scip_symbols
) AS r
