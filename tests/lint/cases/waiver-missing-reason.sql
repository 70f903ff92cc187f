-- expect: waiver-missing-reason 3:1
SET lock_timeout = '5s';
-- sqlmig: lint-ignore ban-drop-column
ALTER TABLE orders DROP COLUMN legacy_flags;
