-- expect: renaming-table 3:1
SET lock_timeout = '5s';
ALTER TABLE orders RENAME TO purchases;
