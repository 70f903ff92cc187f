SET lock_timeout = '5s';
CREATE TABLE purchases (id bigint PRIMARY KEY);
ALTER TABLE purchases RENAME TO purchase_orders;
