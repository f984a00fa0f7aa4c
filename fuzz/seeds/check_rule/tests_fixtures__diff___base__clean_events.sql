-- Events worth counting: everything but debug noise.
SELECT id, user_id, kind, payload.size AS size
FROM events
WHERE kind <> 'debug'
