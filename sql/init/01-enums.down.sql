-- 01-enums.down.sql: undoes 01-enums.sql (the shared enum types), in reverse order.
--
-- The tables whose columns use them were dropped by the later down files.

DROP TYPE genesis_stage;
DROP TYPE genesis_status;
DROP TYPE handle_status;
DROP TYPE outbox_status;
DROP TYPE task_status;
DROP TYPE command_status;
