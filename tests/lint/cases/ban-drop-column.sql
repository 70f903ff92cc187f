-- expect: ban-drop-column 3:1
SET lock_timeout = '5s';
ALTER TABLE orders DROP COLUMN legacy_flags;
