SELECT abs(tags) AS x FROM t
