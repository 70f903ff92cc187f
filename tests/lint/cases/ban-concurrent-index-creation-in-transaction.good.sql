-- Index builds that must not block writers get a file of their own.
-- sqlmig: no-transaction
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
REINDEX INDEX CONCURRENTLY orders_customer_idx;
