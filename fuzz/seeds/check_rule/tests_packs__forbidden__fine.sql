SELECT id, name FROM t WHERE id > 0
