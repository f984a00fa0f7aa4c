SELECT DISTINCT country
FROM user_names
