-- Events worth counting: everything but debug noise.
SELECT id, user_id, kind, payload.size AS size, ts
FROM events
WHERE kind <> 'debug'
