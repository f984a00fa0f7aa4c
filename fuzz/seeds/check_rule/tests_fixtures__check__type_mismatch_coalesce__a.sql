SELECT coalesce(tags, 1) AS x FROM t
