SELECT user_id, count(*) AS n
FROM clean_events
GROUP BY user_id
