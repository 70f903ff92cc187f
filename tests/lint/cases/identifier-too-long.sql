-- expect: identifier-too-long 2:14
CREATE TABLE order_items_with_a_name_much_longer_than_postgres_keeps_in_the_catalog (id bigint PRIMARY KEY);
