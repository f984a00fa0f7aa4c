-- The final rule may order its rows.
SELECT id FROM ordered ORDER BY id
