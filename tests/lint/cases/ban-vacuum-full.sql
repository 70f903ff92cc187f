-- sqlmig: no-transaction
-- expect: ban-vacuum-full 3:1
VACUUM FULL orders;
