SELECT id AS user_id, name, country
FROM users
