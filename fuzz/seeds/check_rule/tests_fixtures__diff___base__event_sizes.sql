SELECT e.user_id, u.name, sum(e.size) AS total
FROM clean_events AS e
JOIN user_names AS u ON e.user_id = u.user_id
GROUP BY e.user_id, u.name
