SELECT * FROM read_parquet('data/t.parquet')
