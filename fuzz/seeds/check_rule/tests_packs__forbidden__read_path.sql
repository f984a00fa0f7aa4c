-- Rules read tables by name, not files by path.
SELECT * FROM 'data/t.parquet'
