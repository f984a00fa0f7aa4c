SELECT id
FROM t JOIN u ON t.id = u.id
