-- Reads no column of clean_events: only how many rows it has.
SELECT count(*) AS n
FROM clean_events
