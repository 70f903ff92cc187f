-- expect: require-concurrent-index-deletion 2:1
DROP INDEX orders_customer_idx;
