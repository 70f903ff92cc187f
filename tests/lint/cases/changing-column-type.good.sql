SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN amount_v2 numeric(12, 2);
