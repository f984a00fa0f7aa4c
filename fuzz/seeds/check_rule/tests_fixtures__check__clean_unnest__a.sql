SELECT f.id, f.tag FROM (SELECT id, unnest(tags) AS tag FROM t) AS f
