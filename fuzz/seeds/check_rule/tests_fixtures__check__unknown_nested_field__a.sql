SELECT s.bb AS x FROM t
