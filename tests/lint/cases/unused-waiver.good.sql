CREATE TABLE fresh (id bigint PRIMARY KEY);
