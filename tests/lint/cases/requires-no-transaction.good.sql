-- sqlmig: no-transaction
VACUUM orders;
CREATE DATABASE reporting;
ANALYZE orders;
