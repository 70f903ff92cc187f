SET lock_timeout = '5s';
-- sqlmig: lint-ignore ban-drop-column reason="unused since v2.3 (#812)"
ALTER TABLE orders DROP COLUMN legacy_flags;
