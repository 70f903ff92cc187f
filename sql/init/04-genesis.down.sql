-- 04-genesis.down.sql: undoes 04-genesis.sql (genesis_sessions, its index and trigger).
--
-- Dropping the table also drops its constraints, its primary key index and the comments.

DROP TRIGGER genesis_sessions_set_updated_at ON genesis_sessions;
DROP INDEX uq_genesis_sessions_novel_in_progress;
DROP TABLE genesis_sessions;
