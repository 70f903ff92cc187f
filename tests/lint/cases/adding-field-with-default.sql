-- expect: adding-field-with-default 4:62
-- expect: adding-field-with-default 5:50
SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN touched_at timestamptz DEFAULT clock_timestamp();
ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid() NOT NULL;
