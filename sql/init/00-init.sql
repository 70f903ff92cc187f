-- 00-init.sql: shared helpers used by every later migration of the reference schema.
--
-- No extension is created. UUID keys use gen_random_uuid(), which is part of core
-- PostgreSQL since version 13, so neither pgcrypto (missing on the embedded server)
-- nor uuid-ossp is needed.

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
