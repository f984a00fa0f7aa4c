-- The identifiers used in the most files, with their total uses and their first use in
-- each file ranked (a rule over name_nodes, itself over node_rows).
WITH per_file AS (
  SELECT identifier, file_id, count(*) AS uses
  FROM name_nodes
  GROUP BY identifier, file_id
),
totals AS (
  SELECT identifier, count(*) AS file_count, sum(uses) AS total_uses
  FROM per_file
  GROUP BY identifier
)
SELECT
  identifier,
  file_count,
  total_uses,
  rank() OVER (ORDER BY file_count DESC, total_uses DESC) AS popularity_rank
FROM totals
WHERE file_count >= 5
