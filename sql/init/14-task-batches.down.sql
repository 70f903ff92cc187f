-- 14-task-batches.down.sql: undo 14-task-batches.sql (batches and progress-row ETAs).
--
-- Children become tasks on their own; the batches' and children's rows stay.

DROP TRIGGER task_progress_fill ON task_progress;
DROP FUNCTION task_progress_fill();
DROP TRIGGER async_tasks_batch_roll_up_delete ON async_tasks;
DROP TRIGGER async_tasks_batch_roll_up_update ON async_tasks;
DROP TRIGGER async_tasks_batch_add_children ON async_tasks;
DROP FUNCTION async_tasks_batch_add_children();
DROP FUNCTION async_tasks_batch_roll_up();
DROP FUNCTION async_tasks_batch_apply(
    uuid, integer, integer, integer, integer, integer, integer, numeric, numeric
);
DROP TRIGGER async_tasks_create_batch_counters ON async_tasks;
DROP FUNCTION async_tasks_create_batch_counters();
DROP TABLE task_batches;
DROP TRIGGER async_tasks_check_batch ON async_tasks;
DROP FUNCTION async_tasks_check_batch();
DROP INDEX idx_async_tasks_created_at;
DROP INDEX idx_async_tasks_parent_id;
ALTER TABLE task_progress
    DROP COLUMN parent_id,
    DROP COLUMN eta_seconds;
ALTER TABLE async_tasks
    DROP CONSTRAINT async_tasks_not_own_parent,
    DROP CONSTRAINT async_tasks_batch_one_level,
    DROP CONSTRAINT async_tasks_size_positive,
    DROP COLUMN size,
    DROP COLUMN is_batch,
    DROP COLUMN parent_id;
