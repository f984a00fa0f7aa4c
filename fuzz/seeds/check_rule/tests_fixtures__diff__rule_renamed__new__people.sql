SELECT id AS user_id, name, country, signup
FROM users
