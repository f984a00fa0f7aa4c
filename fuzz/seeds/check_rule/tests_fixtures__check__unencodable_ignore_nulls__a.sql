SELECT id,
  last_value(name) IGNORE NULLS OVER (ORDER BY id) AS n
FROM t
