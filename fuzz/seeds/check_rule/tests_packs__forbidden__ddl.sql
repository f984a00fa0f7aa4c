-- DDL is not a rule.
CREATE TABLE x (id BIGINT)
