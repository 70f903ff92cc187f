-- expect: prefer-identity 2:24
CREATE TABLE notes (id bigserial PRIMARY KEY, body text);
