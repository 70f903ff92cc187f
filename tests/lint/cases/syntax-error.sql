-- expect: syntax-error 3:8
CREATE TABLE fresh (id bigint PRIMARY KEY);
SELECT 'unterminated;
