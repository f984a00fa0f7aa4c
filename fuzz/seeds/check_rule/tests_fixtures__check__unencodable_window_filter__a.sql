SELECT id, count(id) FILTER (WHERE score > 1) OVER (PARTITION BY name) AS n FROM t
