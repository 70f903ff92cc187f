-- 11-memories.down.sql: undoes 11-memories.sql (memories, its indexes and trigger).
--
-- Dropping the table also drops its constraints, its primary key index and the comments.

DROP TRIGGER memories_set_updated_at ON memories;
DROP INDEX idx_memories_project_status;
DROP INDEX idx_memories_project_created_at;
DROP TABLE memories;
