SELECT id, score FROM t
