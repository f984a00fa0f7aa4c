SELECT id + tags AS x FROM t
