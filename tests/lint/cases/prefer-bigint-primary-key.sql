-- expect: prefer-bigint-primary-key 2:23
CREATE TABLE tags (id integer PRIMARY KEY, name text);
