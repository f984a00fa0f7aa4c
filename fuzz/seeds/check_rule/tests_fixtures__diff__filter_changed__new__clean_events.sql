-- Events worth counting: everything but debug and trace noise.
SELECT id, user_id, kind, payload.size AS size
FROM events
WHERE kind NOT IN ('debug', 'trace')
