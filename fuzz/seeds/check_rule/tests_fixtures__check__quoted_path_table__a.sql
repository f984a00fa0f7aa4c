SELECT *
FROM 'data/t.parquet'
