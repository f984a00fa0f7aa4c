-- DML is not a rule.
INSERT INTO t VALUES (1, 'a')
