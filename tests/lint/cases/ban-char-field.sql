-- expect: ban-char-field 2:30
CREATE TABLE countries (code char(2), name text);
