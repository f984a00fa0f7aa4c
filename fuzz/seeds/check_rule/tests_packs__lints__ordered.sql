-- Read by `reads_ordered`: its order is lost.
SELECT id, name FROM t ORDER BY id
