-- 12-memories-task-id.sql: link each memory to the async task that processes it.
--
-- Added as its own migration after 11 (as a real schema evolves). The column is
-- nullable: existing memories have no task, and deleting a task keeps the memory
-- (ON DELETE SET NULL).

ALTER TABLE memories
    ADD COLUMN task_id UUID
        CONSTRAINT memories_task_id_fkey REFERENCES async_tasks (id) ON DELETE SET NULL;

COMMENT ON COLUMN memories.task_id IS
    'Async task that processes (or last processed) this memory; its progress is in '
    'task_progress. NULL when there is none or the task was deleted.';
COMMENT ON CONSTRAINT memories_task_id_fkey ON memories IS
    'memories.task_id refers to async_tasks; deleting the task sets it to NULL.';

CREATE INDEX idx_memories_task_id
    ON memories (task_id)
    WHERE task_id IS NOT NULL;

COMMENT ON INDEX idx_memories_task_id IS
    'Finds the memory of a task (progress server, task callbacks); also serves the '
    'ON DELETE SET NULL of memories_task_id_fkey.';
