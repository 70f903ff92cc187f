-- 07-async-tasks.down.sql: undoes 07-async-tasks.sql (async_tasks and its trigger).
--
-- Dropping the table also drops its constraints, its primary key index and the comments.

DROP TRIGGER async_tasks_set_updated_at ON async_tasks;
DROP TABLE async_tasks;
