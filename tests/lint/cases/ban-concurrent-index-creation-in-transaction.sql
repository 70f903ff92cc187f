-- expect: ban-concurrent-index-creation-in-transaction 4:1
-- expect: ban-concurrent-index-creation-in-transaction 5:1
-- expect: ban-concurrent-index-creation-in-transaction 6:1
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
DROP INDEX CONCURRENTLY orders_old_idx;
REINDEX INDEX CONCURRENTLY orders_customer_idx;
