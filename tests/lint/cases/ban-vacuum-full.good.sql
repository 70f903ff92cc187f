-- sqlmig: no-transaction
VACUUM (ANALYZE) orders;
