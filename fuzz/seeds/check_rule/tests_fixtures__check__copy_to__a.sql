COPY t TO 'out.parquet'
