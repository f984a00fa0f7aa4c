SELECT name, count(*) AS n
FROM t
