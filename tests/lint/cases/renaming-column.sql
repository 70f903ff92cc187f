-- expect: renaming-column 3:1
SET lock_timeout = '5s';
ALTER TABLE orders RENAME COLUMN amount TO total;
