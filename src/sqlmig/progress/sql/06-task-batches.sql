-- 14-task-batches.sql: batches of async tasks (a parent with child tasks) and an ETA
-- on every progress row.
--
-- * A batch is a task with is_batch = true; its children point at it with parent_id
--   (one level: a batch is never a child). A child's optional size weighs it in the
--   batch's percent (NULL counts as 1). parent_id, is_batch and size never change.
--   Children cannot be added to a finished batch.
-- * The database keeps the batch up to date, so every process and every stream sees
--   the same numbers and a crashed reporter leaves nothing stale. When children are
--   added (trigger async_tasks_batch_add_children, once per statement), removed or
--   change status or progress (async_tasks_batch_roll_up), async_tasks_batch_apply
--   adds the change to the batch's counters (task_batches, one row per batch: the
--   cost does not grow with the batch) under the batch's row lock, in the child's
--   transaction, and when the batch's status or percent moved, updates the batch and
--   appends its progress row (stage 'batch', data {"children": counts}).
--   Percent = size-weighted mean over the children, a finished child (completed,
--   failed or cancelled) counting 100: the share of the batch that is settled.
--   Status: PENDING while every child is PENDING; RUNNING while any child is
--   unfinished; once all are finished: FAILED if any failed, else CANCELLED if any
--   was cancelled, else COMPLETED. A failed child does not stop its siblings (cancel
--   the batch for that). A finished (or cancelled) batch keeps its status; its
--   counters still follow its children.
-- * Lock order: a child's row, then its batch's. Cancelling a batch therefore locks
--   the children first (sqlmig.progress.store.cancel_task).
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

-- counters ------------------------------------------------------------------------------

CREATE TABLE task_batches (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id UUID NOT NULL REFERENCES async_tasks (id) ON DELETE CASCADE,
    total INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0,
    running INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    weight NUMERIC NOT NULL DEFAULT 0,
    settled NUMERIC NOT NULL DEFAULT 0,
    CONSTRAINT task_batches_task_id_key UNIQUE (task_id),
    CONSTRAINT task_batches_counts_add_up CHECK (
        least(pending, running, completed, failed, cancelled) >= 0
        AND total = pending + running + completed + failed + cancelled),
    CONSTRAINT task_batches_settled_within_weight CHECK (
        weight >= 0 AND settled >= 0 AND settled <= 100 * weight)
);

COMMENT ON TABLE task_batches IS
    'Running totals of each batch''s children (one row per batch, kept by trigger '
    'async_tasks_batch_roll_up): the batch''s status and percent follow from them in O(1).';
COMMENT ON COLUMN task_batches.id IS 'Row id (random UUID).';
COMMENT ON COLUMN task_batches.task_id IS
    'The batch (an async_tasks row with is_batch); one row each.';
COMMENT ON COLUMN task_batches.total IS 'Children of the batch.';
COMMENT ON COLUMN task_batches.pending IS 'Children PENDING.';
COMMENT ON COLUMN task_batches.running IS 'Children RUNNING.';
COMMENT ON COLUMN task_batches.completed IS 'Children COMPLETED.';
COMMENT ON COLUMN task_batches.failed IS 'Children FAILED.';
COMMENT ON COLUMN task_batches.cancelled IS 'Children CANCELLED.';
COMMENT ON COLUMN task_batches.weight IS 'Sum of the children''s sizes (NULL counting 1).';
COMMENT ON COLUMN task_batches.settled IS
    'Sum of size * percent over the children, a finished child counting 100; the batch''s '
    'percent is settled / weight.';
COMMENT ON INDEX task_batches_pkey IS 'Primary key of task_batches.';
COMMENT ON INDEX task_batches_task_id_key IS
    'One row per batch; the lookup of a batch''s counters (roll-up, task JSON).';
COMMENT ON CONSTRAINT task_batches_task_id_key ON task_batches IS 'One row per batch.';
COMMENT ON CONSTRAINT task_batches_task_id_fkey ON task_batches IS
    'task_batches.task_id refers to the batch (async_tasks); the row goes with it.';
COMMENT ON CONSTRAINT task_batches_counts_add_up ON task_batches IS
    'The per-status counts are not negative and add up to total.';
COMMENT ON CONSTRAINT task_batches_settled_within_weight ON task_batches IS
    '0 <= settled <= 100 * weight.';

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

CREATE FUNCTION async_tasks_create_batch_counters()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO task_batches (task_id) VALUES (NEW.id);
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION async_tasks_create_batch_counters() IS
    'AFTER INSERT row trigger function of async_tasks for batches: their task_batches row.';

CREATE TRIGGER async_tasks_create_batch_counters
    AFTER INSERT ON async_tasks
    FOR EACH ROW WHEN (NEW.is_batch)
    EXECUTE FUNCTION async_tasks_create_batch_counters();

COMMENT ON TRIGGER async_tasks_create_batch_counters ON async_tasks IS
    'Every batch gets its task_batches row (zero children) when it is created.';

-- roll-up -------------------------------------------------------------------------------

CREATE FUNCTION async_tasks_batch_apply(
    batch_id uuid,
    d_total integer,
    d_pending integer,
    d_running integer,
    d_completed integer,
    d_failed integer,
    d_cancelled integer,
    d_weight numeric,
    d_settled numeric
)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    parent record;
    agg task_batches;
    new_status task_status;
    new_percent numeric(5, 2);
    counts jsonb;
    summary text;
BEGIN
    -- The batch's row first (the lock order is child, then batch), then its counters.
    SELECT a.status, a.progress INTO parent
      FROM async_tasks AS a WHERE a.id = batch_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- the batch is being deleted with its children
    END IF;
    UPDATE task_batches AS b
       SET total = b.total + d_total,
           pending = b.pending + d_pending,
           running = b.running + d_running,
           completed = b.completed + d_completed,
           failed = b.failed + d_failed,
           cancelled = b.cancelled + d_cancelled,
           weight = b.weight + d_weight,
           settled = b.settled + d_settled
     WHERE b.task_id = batch_id
    RETURNING b.* INTO agg;
    -- A finished batch keeps its status; its counters still follow the children.
    IF parent.status IN ('COMPLETED', 'FAILED', 'CANCELLED') OR agg.total = 0 THEN
        RETURN;
    END IF;
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
        RETURN;
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
                                 'message',
                                 format('%s of %s children failed', agg.failed, agg.total),
                                 'children', counts)
                             ELSE a.error_data END
     WHERE a.id = batch_id;
    INSERT INTO task_progress (task_id, status, percent, stage, message, data)
    VALUES (batch_id, new_status, new_percent,
            CASE WHEN new_status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                 THEN lower(new_status::text) ELSE 'batch' END,
            summary, jsonb_build_object('children', counts));
END;
$$;

COMMENT ON FUNCTION async_tasks_batch_apply(
    uuid, integer, integer, integer, integer, integer, integer, numeric, numeric
) IS
    'Applies a change of a batch''s children (deltas of the counts, weight and settled) to '
    'its task_batches row under the batch''s row lock and, when the batch''s status or '
    'size-weighted percent moved, updates the batch and appends its progress row (stage '
    'batch, data {"children": counts}); a finished batch keeps its status.';

CREATE FUNCTION async_tasks_batch_roll_up()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    child async_tasks;
    sign integer := 1;
    weight numeric;
BEGIN
    IF TG_OP = 'DELETE' THEN
        child := OLD;
        sign := -1;
    ELSE
        child := NEW;
    END IF;
    weight := coalesce(child.size, 1);
    IF TG_OP = 'UPDATE' THEN
        PERFORM async_tasks_batch_apply(
            child.parent_id, 0,
            (NEW.status = 'PENDING')::int - (OLD.status = 'PENDING')::int,
            (NEW.status = 'RUNNING')::int - (OLD.status = 'RUNNING')::int,
            (NEW.status = 'COMPLETED')::int - (OLD.status = 'COMPLETED')::int,
            (NEW.status = 'FAILED')::int - (OLD.status = 'FAILED')::int,
            (NEW.status = 'CANCELLED')::int - (OLD.status = 'CANCELLED')::int,
            0,
            weight * (CASE WHEN NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                           THEN 100 ELSE NEW.progress END
                      - CASE WHEN OLD.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                             THEN 100 ELSE OLD.progress END));
    ELSE
        PERFORM async_tasks_batch_apply(
            child.parent_id, sign,
            sign * (child.status = 'PENDING')::int,
            sign * (child.status = 'RUNNING')::int,
            sign * (child.status = 'COMPLETED')::int,
            sign * (child.status = 'FAILED')::int,
            sign * (child.status = 'CANCELLED')::int,
            sign * weight,
            sign * weight * CASE WHEN child.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                                 THEN 100 ELSE child.progress END);
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION async_tasks_batch_roll_up() IS
    'AFTER UPDATE/DELETE row trigger function of async_tasks for children: the change of one '
    'child, applied to its batch by async_tasks_batch_apply.';

CREATE FUNCTION async_tasks_batch_add_children()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    g record;
BEGIN
    -- One delta per batch and statement: adding N children in one INSERT touches the
    -- batch's counters once (updating one row N times in a transaction costs N * N / 2).
    FOR g IN
        SELECT i.parent_id,
               count(*)::int AS n,
               count(*) FILTER (WHERE i.status = 'PENDING')::int AS pending,
               count(*) FILTER (WHERE i.status = 'RUNNING')::int AS running,
               count(*) FILTER (WHERE i.status = 'COMPLETED')::int AS completed,
               count(*) FILTER (WHERE i.status = 'FAILED')::int AS failed,
               count(*) FILTER (WHERE i.status = 'CANCELLED')::int AS cancelled,
               sum(coalesce(i.size, 1)) AS weight,
               sum(coalesce(i.size, 1) * CASE WHEN i.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
                                              THEN 100 ELSE i.progress END) AS settled
          FROM inserted AS i
         WHERE i.parent_id IS NOT NULL
         GROUP BY i.parent_id
         ORDER BY i.parent_id
    LOOP
        PERFORM async_tasks_batch_apply(g.parent_id, g.n, g.pending, g.running, g.completed,
                                        g.failed, g.cancelled, g.weight, g.settled);
    END LOOP;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION async_tasks_batch_add_children() IS
    'AFTER INSERT statement trigger function of async_tasks: the new children of each batch, '
    'applied to it once per statement by async_tasks_batch_apply.';

CREATE TRIGGER async_tasks_batch_add_children
    AFTER INSERT ON async_tasks
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION async_tasks_batch_add_children();

COMMENT ON TRIGGER async_tasks_batch_add_children ON async_tasks IS
    'New children change their batches'' counts and percent (once per statement).';

CREATE TRIGGER async_tasks_batch_roll_up_update
    AFTER UPDATE OF status, progress ON async_tasks
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL
                       AND (OLD.status, OLD.progress) IS DISTINCT FROM (NEW.status, NEW.progress))
    EXECUTE FUNCTION async_tasks_batch_roll_up();

COMMENT ON TRIGGER async_tasks_batch_roll_up_update ON async_tasks IS
    'A child''s new status or progress is rolled up into its batch.';

CREATE TRIGGER async_tasks_batch_roll_up_delete
    AFTER DELETE ON async_tasks
    FOR EACH ROW WHEN (OLD.parent_id IS NOT NULL)
    EXECUTE FUNCTION async_tasks_batch_roll_up();

COMMENT ON TRIGGER async_tasks_batch_roll_up_delete ON async_tasks IS
    'A deleted child leaves its batch''s counts (nothing to do when the batch goes too).';

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
