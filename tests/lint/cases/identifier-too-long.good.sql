CREATE TABLE order_items_with_a_name_that_postgres_keeps_whole (id bigint PRIMARY KEY);
INSERT INTO notes (body) VALUES ('a_string_literal_longer_than_sixty_three_bytes_is_no_identifier_at_all');
