SELECT id FROM t WHERE tags IN (1, 2)
