SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN total numeric;
