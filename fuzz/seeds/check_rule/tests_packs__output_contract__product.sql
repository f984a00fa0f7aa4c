SELECT
  id,
  name,
  score,
  upper(name) AS shout
FROM t
