-- 03-append-only.down.sql: undoes 03-append-only.sql (the append-only trigger function).
--
-- Its triggers (domain_events, task_progress) were dropped by the later down files.

DROP FUNCTION trigger_reject_modification();
