-- 15-task-progress-eta-probe.sql: the same ETA for a fifth less database time per
-- progress row.
--
-- task_progress_fill (14-task-batches.sql) found the ETA's base row, the oldest of the
-- task's previous 20 rows that is at most 60 seconds older (else the previous row),
-- with a bitmap scan and a sort of up to 20 rows on every insert: about half of the
-- trigger's cost. A task that reports often has its row 20 back within 60 seconds,
-- and then that row is the answer: this version probes it by key first and scans only
-- when it does not pass. Same rule, same values (tests/progress/test_batches.py checks
-- both paths against the rule); benchmarks/bench_sse.py measures the difference.

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
        -- The base is the lowest seq of the previous 20 that passes the 60 s test. When
        -- the row 20 back (or the first) passes, it is that row: one probe of the
        -- (task_id, seq) key. Otherwise a scan of at most 20 index entries finds it.
        SELECT tp.percent, tp.created_at INTO base
          FROM task_progress AS tp
         WHERE tp.task_id = NEW.task_id AND tp.seq = greatest(NEW.seq - 20, 1)
           AND tp.seq < NEW.seq
           AND (tp.created_at >= NEW.created_at - interval '60 seconds' OR tp.seq = NEW.seq - 1);
        IF NOT FOUND THEN
            SELECT tp.percent, tp.created_at INTO base
              FROM task_progress AS tp
             WHERE tp.task_id = NEW.task_id
               AND tp.seq >= NEW.seq - 20 AND tp.seq < NEW.seq
               AND (tp.created_at >= NEW.created_at - interval '60 seconds'
                    OR tp.seq = NEW.seq - 1)
             ORDER BY tp.seq
             LIMIT 1;
        END IF;
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
    'task''s recent rows (see sql/init/14-task-batches.sql; the base row found by one key '
    'probe when it can be, sql/init/15-task-progress-eta-probe.sql).';
