-- Events worth counting: everything but debug noise; sizes in kilobytes.
SELECT id, user_id, kind, payload.size / 1024 AS size
FROM events
WHERE kind <> 'debug'
