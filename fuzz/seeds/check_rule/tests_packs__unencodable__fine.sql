SELECT id, first_value(name) OVER (ORDER BY id) AS first_name
FROM t
