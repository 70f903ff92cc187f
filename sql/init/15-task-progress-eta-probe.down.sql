-- 15-task-progress-eta-probe.down.sql: undo 15-task-progress-eta-probe.sql (the ETA
-- trigger function as 14-task-batches.sql made it; the values are the same).

CREATE OR REPLACE FUNCTION task_progress_fill()
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
