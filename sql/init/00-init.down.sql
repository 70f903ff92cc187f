-- 00-init.down.sql: undoes 00-init.sql (the shared updated_at trigger function).
--
-- Every trigger that used it was dropped with its table by the later down files.

DROP FUNCTION trigger_set_timestamp();
