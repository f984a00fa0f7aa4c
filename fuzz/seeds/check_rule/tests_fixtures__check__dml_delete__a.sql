-- remove rows
DELETE FROM t WHERE id = 1
