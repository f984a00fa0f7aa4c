-- A rule is one query.
SELECT id FROM t;
SELECT name FROM t
