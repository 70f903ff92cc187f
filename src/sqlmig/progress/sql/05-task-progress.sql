-- 13-task-progress.sql: task_progress, the append-only progress history of async tasks,
-- pushed to listeners with NOTIFY for live progress streaming (SSE) to browsers.
--
-- * seq numbers the rows of one task 1, 2, 3 ... and is the SSE event id
--   (Last-Event-ID: resume with WHERE task_id = $1 AND seq > $2 ORDER BY seq, served by
--   the unique index on (task_id, seq)). Insert without seq (or with NULL) and trigger
--   task_progress_assign_seq takes max(seq) + 1 for the task, serialising writers of the
--   same task by locking its async_tasks row; an explicit seq is kept as given and
--   must be unique per task. Retention clean-up should keep at least the newest row of a
--   live task, or numbering restarts at 1.
-- * Rows are never changed: UPDATE is rejected (restrict_violation, 23001). DELETE stays
--   allowed, for ON DELETE CASCADE from async_tasks and for retention clean-up.
-- * After each insert, pg_notify('task_progress', payload) sends the row as JSON: the
--   keys of to_jsonb(row) (id, task_id, seq, status, percent, stage, message, data,
--   created_at) plus "truncated": false. NOTIFY payloads must be shorter than 8000
--   bytes; when the row is longer, "truncated" is true, message is cut to what fits
--   and, if even an empty message does not fit, data is sent as null. A listener that
--   sees "truncated": true reads the full row by id. Notifications are delivered when
--   the inserting transaction commits (nothing is sent on rollback).

CREATE TABLE task_progress (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id UUID NOT NULL REFERENCES async_tasks (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    status task_status NOT NULL,
    percent NUMERIC(5, 2) NOT NULL,
    stage TEXT,
    message TEXT NOT NULL DEFAULT '',
    data JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT task_progress_task_id_seq_key UNIQUE (task_id, seq),
    CONSTRAINT task_progress_seq_positive CHECK (seq > 0),
    CONSTRAINT task_progress_percent_range CHECK (percent >= 0 AND percent <= 100),
    CONSTRAINT task_progress_stage_machine_name
        CHECK (stage IS NULL OR (char_length(stage) <= 64 AND stage ~ '^[a-z][a-z0-9_.-]*$')),
    CONSTRAINT task_progress_data_object CHECK (data IS NULL OR jsonb_typeof(data) = 'object')
);

COMMENT ON TABLE task_progress IS
    'Append-only progress history of async tasks (one row per progress report); each insert '
    'is announced with NOTIFY on channel task_progress for live streaming.';
COMMENT ON COLUMN task_progress.id IS 'Row id (identity); global insertion order.';
COMMENT ON COLUMN task_progress.task_id IS 'Task reported on; rows are deleted with their task.';
COMMENT ON COLUMN task_progress.seq IS
    'Per-task sequence number starting at 1, unique per task; the SSE event id. Assigned as '
    'max(seq) + 1 when inserted as NULL.';
COMMENT ON COLUMN task_progress.status IS 'Task status at the time of the report.';
COMMENT ON COLUMN task_progress.percent IS 'Progress in percent, 0.00 to 100.00.';
COMMENT ON COLUMN task_progress.stage IS
    'Short machine name of the current step, e.g. extracting (lower case, at most 64 characters); NULL when not staged.';
COMMENT ON COLUMN task_progress.message IS 'Human-readable progress message; empty string when none.';
COMMENT ON COLUMN task_progress.data IS 'Structured extra data for the client (JSON object); NULL when none.';
COMMENT ON COLUMN task_progress.created_at IS 'When the row was inserted (clock_timestamp(): increasing within a transaction).';

COMMENT ON INDEX task_progress_pkey IS 'Primary key of task_progress.';
COMMENT ON INDEX task_progress_task_id_seq_key IS
    'One row per (task_id, seq); also the index for replaying a task''s progress from a Last-Event-ID.';
COMMENT ON CONSTRAINT task_progress_task_id_fkey ON task_progress IS 'task_progress.task_id refers to async_tasks; deleting the task deletes its progress rows.';
COMMENT ON CONSTRAINT task_progress_task_id_seq_key ON task_progress IS 'seq is unique per task.';
COMMENT ON CONSTRAINT task_progress_seq_positive ON task_progress IS 'seq starts at 1.';
COMMENT ON CONSTRAINT task_progress_percent_range ON task_progress IS 'percent is between 0 and 100.';
COMMENT ON CONSTRAINT task_progress_stage_machine_name ON task_progress IS
    'stage is NULL or a short lower-case machine name ([a-z][a-z0-9_.-]*, at most 64 characters).';
COMMENT ON CONSTRAINT task_progress_data_object ON task_progress IS 'data is NULL or a JSON object.';
COMMENT ON SEQUENCE task_progress_id_seq IS 'Identity sequence of task_progress.id.';

-- seq assignment --------------------------------------------------------------------

CREATE FUNCTION task_progress_assign_seq()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.seq IS NULL THEN
        -- Serialise concurrent writers of the same task: the second one waits here until
        -- the first commits, then (READ COMMITTED) sees its row in the max() below.
        PERFORM 1 FROM async_tasks WHERE id = NEW.task_id FOR NO KEY UPDATE;
        SELECT coalesce(max(tp.seq), 0) + 1
          INTO NEW.seq
          FROM task_progress AS tp
         WHERE tp.task_id = NEW.task_id;
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION task_progress_assign_seq() IS
    'BEFORE INSERT row trigger function of task_progress: when seq is NULL, sets it to the '
    'task''s max(seq) + 1 (1 for the first row), after locking the task''s async_tasks row so '
    'that concurrent writers of one task get consecutive numbers.';

CREATE TRIGGER task_progress_assign_seq
    BEFORE INSERT ON task_progress
    FOR EACH ROW EXECUTE FUNCTION task_progress_assign_seq();

COMMENT ON TRIGGER task_progress_assign_seq ON task_progress IS
    'Numbers a task''s progress rows 1, 2, 3 ... when they are inserted without seq.';

-- append-only -------------------------------------------------------------------------

CREATE TRIGGER task_progress_reject_update
    BEFORE UPDATE ON task_progress
    FOR EACH ROW EXECUTE FUNCTION trigger_reject_modification(
        'Progress rows are immutable: insert a new progress row (next seq) instead.'
    );

COMMENT ON TRIGGER task_progress_reject_update ON task_progress IS
    'Makes task_progress append-only: every UPDATE fails with restrict_violation (23001); '
    'DELETE stays allowed for cascades and retention clean-up.';

-- NOTIFY --------------------------------------------------------------------------------

CREATE FUNCTION task_progress_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    -- pg_notify() accepts payloads shorter than 8000 bytes.
    max_bytes CONSTANT integer := 7999;
    body jsonb := to_jsonb(NEW) || jsonb_build_object('truncated', false);
    payload text := body::text;
    base_bytes integer;
    lo integer;
    hi integer;
    mid integer;
BEGIN
    IF octet_length(payload) > max_bytes THEN
        body := body || jsonb_build_object('truncated', true, 'message', '');
        IF octet_length(body::text) > max_bytes THEN
            body := body || jsonb_build_object('data', NULL);
        END IF;
        -- Longest prefix of the message that fits: binary search on its length in
        -- characters (JSON escaping makes the byte size non-linear). The empty message
        -- is serialised as "" (2 bytes), replaced by the JSON string of the prefix.
        base_bytes := octet_length(body::text) - 2;
        lo := 0;
        hi := char_length(NEW.message);
        WHILE lo < hi LOOP
            mid := (lo + hi + 1) / 2;
            IF base_bytes + octet_length(to_jsonb(left(NEW.message, mid))::text) <= max_bytes THEN
                lo := mid;
            ELSE
                hi := mid - 1;
            END IF;
        END LOOP;
        body := body || jsonb_build_object('message', left(NEW.message, lo));
        payload := body::text;
    END IF;
    PERFORM pg_notify('task_progress', payload);
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION task_progress_notify() IS
    'AFTER INSERT row trigger function of task_progress: pg_notify(''task_progress'', json) '
    'with the row''s columns plus "truncated"; when the JSON would reach 8000 bytes, message is '
    'cut to fit (and data nulled if needed) and "truncated" is true.';

CREATE TRIGGER task_progress_notify
    AFTER INSERT ON task_progress
    FOR EACH ROW EXECUTE FUNCTION task_progress_notify();

COMMENT ON TRIGGER task_progress_notify ON task_progress IS
    'Announces every new progress row on NOTIFY channel task_progress (delivered at commit).';
