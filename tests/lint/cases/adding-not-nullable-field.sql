-- expect: adding-not-nullable-field 3:1
SET lock_timeout = '5s';
ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
