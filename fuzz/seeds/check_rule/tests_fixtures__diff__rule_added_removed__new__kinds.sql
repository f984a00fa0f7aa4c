SELECT kind, count(*) AS n
FROM clean_events
GROUP BY kind
