-- SCIP symbol relationships (unnest of scip_symbols.relationships) with a single label for
-- the relationship's kind.
SELECT
  r.symbol,
  r.relationship.symbol AS related_symbol,
  CASE
    WHEN r.relationship.is_implementation THEN 'implementation'
    WHEN r.relationship.is_type_definition THEN 'type_definition'
    WHEN r.relationship.is_definition THEN 'definition'
    WHEN r.relationship.is_reference THEN 'reference'
    ELSE 'other'
  END AS relationship_kind
FROM (
  SELECT symbol, unnest(relationships) AS relationship
  FROM scip_symbols
) AS r
