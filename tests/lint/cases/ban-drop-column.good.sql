-- sqlmig: lint-ignore ban-drop-column reason="nothing reads legacy_flags since v2.3"
SET lock_timeout = '5s';
ALTER TABLE orders DROP COLUMN legacy_flags;
