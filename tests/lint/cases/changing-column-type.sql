-- expect: changing-column-type 3:1
SET lock_timeout = '5s';
ALTER TABLE orders ALTER COLUMN amount TYPE numeric(12, 2);
