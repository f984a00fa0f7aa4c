SELECT DISTINCT country
FROM people
