SELECT t.idd FROM t
