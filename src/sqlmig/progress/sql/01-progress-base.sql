-- 01-progress-base.sql: what the progress tables build on, for a database of its own.
--
-- The progress track (sqlmig progress install) starts in an empty database: the
-- task_status type and the two shared trigger functions of the bundled schema
-- (sql/init 01-enums, 00-init, 03-append-only), with the same definitions, so a
-- database built from sql/init and one with the track alone agree on them.
-- gen_random_uuid() is core PostgreSQL since 13: no extension is needed.

CREATE TYPE task_status AS ENUM ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED');

COMMENT ON TYPE task_status IS
    'Lifecycle of an asynchronous task (async_tasks, task_progress): PENDING (queued), '
    'RUNNING, and the terminal states COMPLETED, FAILED and CANCELLED.';

CREATE FUNCTION trigger_set_timestamp()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- now() is the start time of the current transaction: every row changed by one
    -- transaction gets the same updated_at, and it never goes below a created_at
    -- written by an earlier transaction.
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION trigger_set_timestamp() IS
    'BEFORE UPDATE row trigger function shared by every table that has an updated_at column: '
    'sets NEW.updated_at to now() (the transaction start time), so the column always tells '
    'when the row was last changed, whatever the application sends.';

CREATE FUNCTION trigger_reject_modification()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: the table is append-only',
            TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = coalesce(TG_ARGV[0], 'Insert a new row instead of changing an existing one.');
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION trigger_reject_modification() IS
    'BEFORE UPDATE/DELETE row trigger function for append-only tables: raises '
    'restrict_violation (SQLSTATE 23001) naming the operation and the table; the optional '
    'first trigger argument is used as the error HINT.';
