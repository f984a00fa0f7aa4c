-- COPY writes files.
COPY t TO 'out.parquet'
