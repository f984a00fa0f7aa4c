-- The Substrait producer would drop IGNORE NULLS and return different values.
SELECT id, first_value(name) IGNORE NULLS OVER (ORDER BY id) AS first_name
FROM t
