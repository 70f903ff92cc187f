-- 13-task-progress.down.sql: undoes 13-task-progress.sql (task_progress, its triggers and
-- their functions), in reverse order.
--
-- Dropping the table also drops its constraints, its indexes, its identity sequence and
-- the comments. The shared trigger_reject_modification() stays (03's down file drops it).

DROP TRIGGER task_progress_notify ON task_progress;
DROP FUNCTION task_progress_notify();

DROP TRIGGER task_progress_reject_update ON task_progress;

DROP TRIGGER task_progress_assign_seq ON task_progress;
DROP FUNCTION task_progress_assign_seq();

DROP TABLE task_progress;
