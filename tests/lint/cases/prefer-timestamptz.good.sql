CREATE TABLE visits (id bigint, seen_at timestamptz NOT NULL);
