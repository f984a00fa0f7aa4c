SELECT id, name AS id FROM t
