-- expect: constraint-missing-not-valid 4:24
-- expect: constraint-missing-not-valid 5:24
SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0);
