-- 12-memories-task-id.down.sql: undoes 12-memories-task-id.sql (memories.task_id, its
-- foreign key and index); the memories rows and their other columns are kept.

DROP INDEX idx_memories_task_id;
ALTER TABLE memories DROP CONSTRAINT memories_task_id_fkey;
ALTER TABLE memories DROP COLUMN task_id;
