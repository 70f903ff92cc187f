-- expect: disallowed-unique-constraint 3:24
SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_number_key UNIQUE (number);
