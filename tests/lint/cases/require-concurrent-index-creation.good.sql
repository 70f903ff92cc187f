-- sqlmig: no-transaction
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
CREATE TABLE fresh (id bigint PRIMARY KEY, customer_id bigint);
CREATE INDEX fresh_customer_idx ON fresh (customer_id);
