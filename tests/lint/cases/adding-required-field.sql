-- expect: adding-required-field 3:31
SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN region text NOT NULL;
