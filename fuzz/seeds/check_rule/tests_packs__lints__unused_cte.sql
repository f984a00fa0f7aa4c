WITH named AS (SELECT id FROM t WHERE name IS NOT NULL),
     ignored AS (SELECT id FROM t)
SELECT id FROM named
