-- expect: prefer-timestamptz 2:41
CREATE TABLE visits (id bigint, seen_at timestamp NOT NULL);
