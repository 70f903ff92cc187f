-- 02-async-tasks.sql: async_tasks, tracking of long-running background work.
--
-- sql/init 07-async-tasks.sql and the async_tasks indexes of sql/init 10-indexes.sql,
-- without the foreign key to command_inbox (a table of the bundled schema only; the
-- column stays, for applications that record what started a task).
--
-- Coherence rules enforced by CHECK constraints:
--   * progress is a percentage in 0..100 and a COMPLETED task is at 100;
--   * 0 <= retry_count <= max_retries;
--   * completed_at is set exactly when the status is terminal (COMPLETED, FAILED,
--     CANCELLED) and is not before started_at;
--   * RUNNING and COMPLETED tasks have started_at (a task can be CANCELLED or FAILED
--     before it ever started);
--   * a FAILED task has error_data.

CREATE TABLE async_tasks (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    task_type VARCHAR(255) NOT NULL,
    triggered_by_command_id UUID,
    status task_status NOT NULL DEFAULT 'PENDING',
    progress NUMERIC(5, 2) NOT NULL DEFAULT 0,
    input_data JSONB NOT NULL DEFAULT '{}'::jsonb,
    result_data JSONB,
    error_data JSONB,
    execution_node VARCHAR(255),
    retry_count INTEGER NOT NULL DEFAULT 0,
    max_retries INTEGER NOT NULL DEFAULT 3,
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT async_tasks_task_type_not_blank CHECK (btrim(task_type) <> ''),
    CONSTRAINT async_tasks_progress_range CHECK (progress >= 0 AND progress <= 100),
    CONSTRAINT async_tasks_completed_is_full CHECK (status <> 'COMPLETED' OR progress = 100),
    CONSTRAINT async_tasks_retries_within_max
        CHECK (retry_count >= 0 AND max_retries >= 0 AND retry_count <= max_retries),
    CONSTRAINT async_tasks_completed_at_iff_terminal
        CHECK ((status IN ('COMPLETED', 'FAILED', 'CANCELLED')) = (completed_at IS NOT NULL)),
    CONSTRAINT async_tasks_started_when_running
        CHECK (status NOT IN ('RUNNING', 'COMPLETED') OR started_at IS NOT NULL),
    CONSTRAINT async_tasks_completed_after_started
        CHECK (completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at),
    CONSTRAINT async_tasks_failed_has_error CHECK (status <> 'FAILED' OR error_data IS NOT NULL),
    CONSTRAINT async_tasks_input_data_object CHECK (jsonb_typeof(input_data) = 'object'),
    CONSTRAINT async_tasks_result_data_object
        CHECK (result_data IS NULL OR jsonb_typeof(result_data) = 'object'),
    CONSTRAINT async_tasks_error_data_object
        CHECK (error_data IS NULL OR jsonb_typeof(error_data) = 'object')
);

COMMENT ON TABLE async_tasks IS
    'Background tasks (AI generation, extraction, indexing ...): status, progress, input, '
    'result or error, retries and timing of each task; task_progress holds its progress history.';
COMMENT ON COLUMN async_tasks.id IS 'Task id (random UUID).';
COMMENT ON COLUMN async_tasks.task_type IS 'Kind of work, e.g. genesis.concept_generation; not blank.';
COMMENT ON COLUMN async_tasks.triggered_by_command_id IS 'Command that started the task; NULL when started otherwise or when that command was deleted.';
COMMENT ON COLUMN async_tasks.status IS 'PENDING, RUNNING, or terminal COMPLETED / FAILED / CANCELLED.';
COMMENT ON COLUMN async_tasks.progress IS 'Latest progress in percent, 0.00 to 100.00 (100 once COMPLETED).';
COMMENT ON COLUMN async_tasks.input_data IS 'Task arguments (JSON object, {} when none).';
COMMENT ON COLUMN async_tasks.result_data IS 'Task result (JSON object); NULL until there is one.';
COMMENT ON COLUMN async_tasks.error_data IS 'Error details such as type, message and traceback (JSON object); required when FAILED.';
COMMENT ON COLUMN async_tasks.execution_node IS 'Worker or host that runs or ran the task; NULL while unassigned.';
COMMENT ON COLUMN async_tasks.retry_count IS 'Retries done so far; never above max_retries.';
COMMENT ON COLUMN async_tasks.max_retries IS 'Retries allowed for this task (0 or more).';
COMMENT ON COLUMN async_tasks.started_at IS 'When the task (last) started running; required when RUNNING or COMPLETED.';
COMMENT ON COLUMN async_tasks.completed_at IS 'When the task reached a terminal status; set exactly when COMPLETED, FAILED or CANCELLED.';
COMMENT ON COLUMN async_tasks.created_at IS 'When the task was created.';
COMMENT ON COLUMN async_tasks.updated_at IS 'When the row was last changed; maintained by trigger async_tasks_set_updated_at.';

COMMENT ON INDEX async_tasks_pkey IS 'Primary key of async_tasks.';
COMMENT ON CONSTRAINT async_tasks_task_type_not_blank ON async_tasks IS 'task_type is not blank.';
COMMENT ON CONSTRAINT async_tasks_progress_range ON async_tasks IS 'progress is a percentage between 0 and 100.';
COMMENT ON CONSTRAINT async_tasks_completed_is_full ON async_tasks IS 'A COMPLETED task is at 100 percent.';
COMMENT ON CONSTRAINT async_tasks_retries_within_max ON async_tasks IS '0 <= retry_count <= max_retries.';
COMMENT ON CONSTRAINT async_tasks_completed_at_iff_terminal ON async_tasks IS 'completed_at is set exactly in the terminal states.';
COMMENT ON CONSTRAINT async_tasks_started_when_running ON async_tasks IS 'RUNNING and COMPLETED tasks have started_at.';
COMMENT ON CONSTRAINT async_tasks_completed_after_started ON async_tasks IS 'A task does not complete before it started.';
COMMENT ON CONSTRAINT async_tasks_failed_has_error ON async_tasks IS 'A FAILED task has error_data.';
COMMENT ON CONSTRAINT async_tasks_input_data_object ON async_tasks IS 'input_data is always a JSON object.';
COMMENT ON CONSTRAINT async_tasks_result_data_object ON async_tasks IS 'result_data is NULL or a JSON object.';
COMMENT ON CONSTRAINT async_tasks_error_data_object ON async_tasks IS 'error_data is NULL or a JSON object.';

CREATE TRIGGER async_tasks_set_updated_at
    BEFORE UPDATE ON async_tasks
    FOR EACH ROW EXECUTE FUNCTION trigger_set_timestamp();

COMMENT ON TRIGGER async_tasks_set_updated_at ON async_tasks IS
    'Keeps async_tasks.updated_at current on every UPDATE.';

-- indexes (as in sql/init 10-indexes.sql) ---------------------------------------

CREATE INDEX idx_async_tasks_active
    ON async_tasks (status, created_at)
    WHERE status IN ('PENDING', 'RUNNING');
COMMENT ON INDEX idx_async_tasks_active IS
    'Queued and running tasks, oldest first (workers picking up work, monitoring).';

CREATE INDEX idx_async_tasks_task_type_status
    ON async_tasks (task_type, status);
COMMENT ON INDEX idx_async_tasks_task_type_status IS
    'Tasks of one type by status (dashboards, v_async_task_stats).';

CREATE INDEX idx_async_tasks_triggered_by_command_id
    ON async_tasks (triggered_by_command_id)
    WHERE triggered_by_command_id IS NOT NULL;
COMMENT ON INDEX idx_async_tasks_triggered_by_command_id IS
    'Tasks started by a command; also serves the ON DELETE SET NULL of the foreign key.';
