SELECT uper(name) AS n FROM t
