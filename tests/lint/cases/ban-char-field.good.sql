CREATE TABLE countries (code text CHECK (length(code) = 2), name text);
