-- 14-task-batches.sql: batches of async tasks (a parent with child tasks) and an ETA
-- on every progress row.
--
-- * A batch is a task with is_batch = true; its children point at it with parent_id
--   (one level: a batch is never a child). A child's optional size weighs it in the
--   batch's percent (NULL counts as 1). parent_id, is_batch and size never change.
--   Children cannot be added to a finished batch.
-- * The database keeps the batch up to date, so every process and every stream sees
--   the same numbers and a crashed reporter leaves nothing stale: after a child is
--   added or its status or progress changes, trigger async_tasks_batch_roll_up
--   recomputes the parent under its row lock (in the child's transaction) and, when
--   its status or percent moved, updates it and appends a parent progress row
--   (stage 'batch', data {"children": counts}). Percent = size-weighted mean over the
--   children, a finished child (completed, failed or cancelled) counting 100: it is
--   the share of the batch that is settled. Status: PENDING while every child is
--   PENDING; RUNNING while any child is unfinished; once all are finished: FAILED if
--   any failed, else CANCELLED if any was cancelled, else COMPLETED. A failed child
--   does not stop its siblings (cancel the batch for that). A finished (or
--   cancelled) batch is never changed by its children.
-- * Lock order: a child's row, then its parent's. Cancelling a batch therefore locks
--   the children first (sqlmig.progress.batches.cancel_batch).
-- * task_progress.eta_seconds: estimated seconds to completion, set on insert by
--   trigger task_progress_fill (an explicit value is kept, as for seq). RUNNING: the
--   rate of percent between the oldest of the task's previous 20 rows that is at most
--   60 seconds older than this row (else the previous row) and this row,
--   extrapolated to 100; NULL when there is no earlier row or percent did not move.
--   0 at 100 percent and when COMPLETED; NULL when PENDING, FAILED or CANCELLED.
--   A batch's rows get theirs the same way, from its rolled-up percent.
-- * task_progress.parent_id: the task's parent_id, copied on insert (NOTIFY payloads
--   and batch streams carry it without a lookup).

ALTER TABLE async_tasks
    ADD COLUMN parent_id UUID
        CONSTRAINT async_tasks_parent_id_fkey REFERENCES async_tasks (id) ON DELETE CASCADE,
    ADD COLUMN is_batch BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN size NUMERIC,
    ADD CONSTRAINT async_tasks_size_positive CHECK (size IS NULL OR size > 0),
    ADD CONSTRAINT async_tasks_batch_one_level CHECK (NOT (is_batch AND parent_id IS NOT NULL)),
    ADD CONSTRAINT async_tasks_not_own_parent CHECK (parent_id IS DISTINCT FROM id);

COMMENT ON COLUMN async_tasks.parent_id IS
    'The batch this task belongs to; NULL for a task on its own or a batch. Children are '
    'deleted with their batch.';
COMMENT ON COLUMN async_tasks.is_batch IS
    'True for a batch: a parent task whose status and progress are rolled up from its children.';
COMMENT ON COLUMN async_tasks.size IS
    'Weight of a child in its batch''s percent (e.g. bytes or items); NULL counts as 1.';
COMMENT ON CONSTRAINT async_tasks_parent_id_fkey ON async_tasks IS
    'async_tasks.parent_id refers to the batch (async_tasks); deleting it deletes its children.';
COMMENT ON CONSTRAINT async_tasks_size_positive ON async_tasks IS 'size is NULL or positive.';
COMMENT ON CONSTRAINT async_tasks_batch_one_level ON async_tasks IS
    'Batches are one level deep: a batch has no parent.';
COMMENT ON CONSTRAINT async_tasks_not_own_parent ON async_tasks IS
    'A task is not its own parent.';

ALTER TABLE task_progress
    ADD COLUMN eta_seconds NUMERIC(10, 1),
    ADD COLUMN parent_id UUID,
    ADD CONSTRAINT task_progress_eta_not_negative CHECK (eta_seconds IS NULL OR eta_seconds >= 0);

COMMENT ON COLUMN task_progress.eta_seconds IS
    'Estimated seconds until the task completes, as of this row (rate of percent over the '
    'recent rows); NULL when unknown. Set by trigger task_progress_fill.';
COMMENT ON COLUMN task_progress.parent_id IS
    'Copy of the task''s async_tasks.parent_id (its batch), set on insert; NULL when none.';
COMMENT ON CONSTRAINT task_progress_eta_not_negative ON task_progress IS
    'eta_seconds is NULL or not negative.';

CREATE INDEX idx_async_tasks_parent_id
    ON async_tasks (parent_id, created_at DESC, id DESC)
    WHERE parent_id IS NOT NULL;

COMMENT ON INDEX idx_async_tasks_parent_id IS
    'The children of a batch, newest first (roll-up counts, child listing with a cursor); '
    'also serves the ON DELETE CASCADE of async_tasks_parent_id_fkey.';

CREATE INDEX idx_async_tasks_created_at
    ON async_tasks (created_at DESC, id DESC);

COMMENT ON INDEX idx_async_tasks_created_at IS
    'Every task newest first: the task list and its cursor paging (created_at, id).';

-- batch membership ---------------------------------------------------------------------

CREATE FUNCTION async_tasks_check_batch()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    parent record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.parent_id, NEW.is_batch, NEW.size)
                IS DISTINCT FROM (OLD.parent_id, OLD.is_batch, OLD.size) THEN
            RAISE EXCEPTION 'parent_id, is_batch and size of task % cannot change', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    -- Locked so that a concurrent cancel of the batch cannot miss this child.
    SELECT a.is_batch, a.status INTO parent
      FROM async_tasks AS a WHERE a.id = NEW.parent_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key reports it
    END IF;
    IF NOT parent.is_batch THEN
        RAISE EXCEPTION 'task % is not a batch: children need a parent with is_batch', NEW.parent_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF parent.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN
        RAISE EXCEPTION 'batch % is already %: no more children', NEW.parent_id, parent.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION async_tasks_check_batch() IS
    'BEFORE INSERT OR UPDATE row trigger function of async_tasks: a child''s parent must be '
    'an unfinished batch (locked while checking); parent_id, is_batch and size never change.';

CREATE TRIGGER async_tasks_check_batch
    BEFORE INSERT OR UPDATE ON async_tasks
    FOR EACH ROW EXECUTE FUNCTION async_tasks_check_batch();

COMMENT ON TRIGGER async_tasks_check_batch ON async_tasks IS
    'Children only join unfinished batches; batch membership and size are fixed.';

-- roll-up -------------------------------------------------------------------------------

CREATE FUNCTION async_tasks_batch_roll_up()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    parent record;
    agg record;
    new_status task_status;
    new_percent numeric(5, 2);
    counts jsonb;
    summary text;
BEGIN
    SELECT a.status, a.progress INTO parent
      FROM async_tasks AS a WHERE a.id = NEW.parent_id FOR NO KEY UPDATE;
    IF NOT FOUND OR parent.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN
        RETURN NULL;
    END IF;
    -- A pending child joining a pending batch changes nothing: adding N children up front
    -- costs N, not N * N / 2 (the count below reads every child).
    IF TG_OP = 'INSERT' AND NEW.status = 'PENDING' AND parent.status = 'PENDING' THEN
        RETURN NULL;
    END IF;
    SELECT count(*) AS total,
           count(*) FILTER (WHERE c.status = 'PENDING') AS pending,
           count(*) FILTER (WHERE c.status = 'RUNNING') AS running,
           count(*) FILTER (WHERE c.status = 'COMPLETED') AS completed,
           count(*) FILTER (WHERE c.status = 'FAILED') AS failed,
           count(*) FILTER (WHERE c.status = 'CANCELLED') AS cancelled,
           sum(coalesce(c.size, 1)) AS weight,
           sum(coalesce(c.size, 1) * CASE WHEN c.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                                          THEN 100 ELSE c.progress END) AS settled
      INTO agg
      FROM async_tasks AS c
     WHERE c.parent_id = NEW.parent_id;
    new_percent := least(round(agg.settled / agg.weight, 2), 100);
    IF agg.pending = agg.total THEN
        new_status := 'PENDING';
    ELSIF agg.pending + agg.running > 0 THEN
        new_status := 'RUNNING';
        -- 100.00 only once every child finished
        new_percent := least(new_percent, 99.99);
    ELSIF agg.failed > 0 THEN
        new_status := 'FAILED';
    ELSIF agg.cancelled > 0 THEN
        new_status := 'CANCELLED';
    ELSE
        new_status := 'COMPLETED';
    END IF;
    IF new_status = parent.status AND new_percent = parent.progress THEN
        RETURN NULL;
    END IF;
    counts := jsonb_build_object(
        'total', agg.total, 'pending', agg.pending, 'running', agg.running,
        'completed', agg.completed, 'failed', agg.failed, 'cancelled', agg.cancelled);
    summary := format('%s of %s done', agg.completed, agg.total);
    IF agg.failed > 0 THEN
        summary := summary || format(', %s failed', agg.failed);
    END IF;
    IF agg.cancelled > 0 THEN
        summary := summary || format(', %s cancelled', agg.cancelled);
    END IF;
    IF agg.running > 0 THEN
        summary := summary || format(', %s running', agg.running);
    END IF;
    UPDATE async_tasks AS a
       SET status = new_status,
           progress = new_percent,
           started_at = CASE WHEN new_status = 'PENDING' THEN a.started_at
                             ELSE coalesce(a.started_at, now()) END,
           completed_at = CASE WHEN new_status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                               THEN greatest(now(), coalesce(a.started_at, now())) END,
           result_data = CASE WHEN new_status = 'COMPLETED'
                              THEN jsonb_build_object('children', counts) ELSE a.result_data END,
           error_data = CASE WHEN new_status = 'FAILED'
                             THEN jsonb_build_object(
                                 'type', 'BatchFailed',
                                 'message', format('%s of %s children failed', agg.failed, agg.total),
                                 'children', counts)
                             ELSE a.error_data END
     WHERE a.id = NEW.parent_id;
    INSERT INTO task_progress (task_id, status, percent, stage, message, data)
    VALUES (NEW.parent_id, new_status, new_percent,
            CASE WHEN new_status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                 THEN lower(new_status::text) ELSE 'batch' END,
            summary, jsonb_build_object('children', counts));
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION async_tasks_batch_roll_up() IS
    'AFTER INSERT/UPDATE row trigger function of async_tasks for children: recomputes the '
    'batch''s status and size-weighted percent from all its children under the batch''s row '
    'lock, and when either moved updates the batch and appends its progress row (stage '
    'batch, data {"children": counts}); a finished batch is left alone.';

CREATE TRIGGER async_tasks_batch_roll_up_insert
    AFTER INSERT ON async_tasks
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL)
    EXECUTE FUNCTION async_tasks_batch_roll_up();

COMMENT ON TRIGGER async_tasks_batch_roll_up_insert ON async_tasks IS
    'A new child changes its batch''s counts and percent.';

CREATE TRIGGER async_tasks_batch_roll_up_update
    AFTER UPDATE OF status, progress ON async_tasks
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL
                       AND (OLD.status, OLD.progress) IS DISTINCT FROM (NEW.status, NEW.progress))
    EXECUTE FUNCTION async_tasks_batch_roll_up();

COMMENT ON TRIGGER async_tasks_batch_roll_up_update ON async_tasks IS
    'A child''s new status or progress is rolled up into its batch.';

-- ETA and parent on progress rows ---------------------------------------------------------

CREATE FUNCTION task_progress_fill()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    base record;
    eta numeric;
BEGIN
    SELECT a.parent_id INTO NEW.parent_id FROM async_tasks AS a WHERE a.id = NEW.task_id;
    IF NEW.eta_seconds IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.status = 'COMPLETED' OR (NEW.status = 'RUNNING' AND NEW.percent >= 100) THEN
        NEW.eta_seconds := 0;
    ELSIF NEW.status = 'RUNNING' THEN
        -- At most 20 index entries of (task_id, seq): bounded work per insert.
        SELECT tp.percent, tp.created_at INTO base
          FROM task_progress AS tp
         WHERE tp.task_id = NEW.task_id
           AND tp.seq >= NEW.seq - 20 AND tp.seq < NEW.seq
           AND (tp.created_at >= NEW.created_at - interval '60 seconds' OR tp.seq = NEW.seq - 1)
         ORDER BY tp.seq
         LIMIT 1;
        IF FOUND AND NEW.percent > base.percent AND NEW.created_at > base.created_at THEN
            eta := (100 - NEW.percent) * extract(epoch FROM NEW.created_at - base.created_at)
                   / (NEW.percent - base.percent);
            IF eta < 1e9 THEN
                NEW.eta_seconds := round(eta, 1);
            END IF;
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION task_progress_fill() IS
    'BEFORE INSERT row trigger function of task_progress (after seq is assigned): copies the '
    'task''s parent_id and, unless given, sets eta_seconds from the rate of percent over the '
    'task''s recent rows (see sql/init/14-task-batches.sql).';

CREATE TRIGGER task_progress_fill
    BEFORE INSERT ON task_progress
    FOR EACH ROW EXECUTE FUNCTION task_progress_fill();

COMMENT ON TRIGGER task_progress_fill ON task_progress IS
    'Sets parent_id and eta_seconds of new progress rows (runs after task_progress_assign_seq: '
    'triggers fire in name order).';
