SELECT e.user_id, u.name, sum(e.size) AS total
FROM clean_events AS e
JOIN people AS u ON e.user_id = u.user_id
GROUP BY e.user_id, u.name
