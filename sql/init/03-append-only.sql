-- 03-append-only.sql: shared trigger function that makes a table append-only.
--
-- Attached as a BEFORE UPDATE (and, where wanted, BEFORE DELETE) row trigger. It
-- rejects the operation with SQLSTATE 23001 (restrict_violation, an integrity
-- constraint violation, psycopg.errors.RestrictViolation) and a message naming the
-- operation and the table. The optional first trigger argument becomes the HINT.
-- TRUNCATE is not blocked: it needs its own privilege, which applications should
-- not have.

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
