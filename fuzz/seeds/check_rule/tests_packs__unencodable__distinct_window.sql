SELECT id, count(DISTINCT name) OVER (PARTITION BY id) AS names
FROM t
