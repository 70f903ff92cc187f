-- expect: requires-no-transaction 4:1
-- expect: requires-no-transaction 5:1
-- expect: requires-no-transaction 6:1
VACUUM orders;
CREATE DATABASE reporting;
ALTER SYSTEM SET work_mem = '64MB';
