-- 06-command-inbox.down.sql: undoes 06-command-inbox.sql (command_inbox, its index, trigger).
--
-- Dropping the table also drops its constraints, its key indexes and the comments.

DROP TRIGGER command_inbox_set_updated_at ON command_inbox;
DROP INDEX uq_command_inbox_session_type_active;
DROP TABLE command_inbox;
