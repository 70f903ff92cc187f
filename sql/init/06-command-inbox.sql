-- 06-command-inbox.sql: command_inbox, the idempotent entry point for user commands.
--
-- Each command is stored once per idempotency key (UNIQUE), and a session may have at
-- most one unfinished (RECEIVED or PROCESSING) command of a given type at a time
-- (partial unique index), so a double click or a retried request cannot start the
-- same work twice.

CREATE TABLE command_inbox (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id UUID NOT NULL,
    command_type VARCHAR(255) NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}'::jsonb,
    status command_status NOT NULL DEFAULT 'RECEIVED',
    error_message TEXT,
    retry_count INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT command_inbox_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT command_inbox_command_type_not_blank CHECK (btrim(command_type) <> ''),
    CONSTRAINT command_inbox_idempotency_key_not_blank CHECK (btrim(idempotency_key) <> ''),
    CONSTRAINT command_inbox_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT command_inbox_retry_count_non_negative CHECK (retry_count >= 0),
    CONSTRAINT command_inbox_failed_has_error
        CHECK (status <> 'FAILED' OR error_message IS NOT NULL)
);

COMMENT ON TABLE command_inbox IS
    'Inbox of commands sent by clients: guarantees idempotency (one row per idempotency key) '
    'and at most one unfinished command per (session, command type).';
COMMENT ON COLUMN command_inbox.id IS 'Command id (random UUID); async tasks refer to it as their trigger.';
COMMENT ON COLUMN command_inbox.session_id IS 'Session the command belongs to (e.g. a genesis session or a client session).';
COMMENT ON COLUMN command_inbox.command_type IS 'Command name, e.g. RequestConceptGeneration; not blank.';
COMMENT ON COLUMN command_inbox.idempotency_key IS 'Client-chosen key; a repeated request with the same key finds the existing row instead of creating a new one.';
COMMENT ON COLUMN command_inbox.payload IS 'Command arguments (JSON object).';
COMMENT ON COLUMN command_inbox.status IS 'RECEIVED, PROCESSING, or terminal COMPLETED / FAILED.';
COMMENT ON COLUMN command_inbox.error_message IS 'Why processing failed; required when status is FAILED.';
COMMENT ON COLUMN command_inbox.retry_count IS 'How many times processing was retried (0 or more).';
COMMENT ON COLUMN command_inbox.created_at IS 'When the command was received.';
COMMENT ON COLUMN command_inbox.updated_at IS 'When the row was last changed; maintained by trigger command_inbox_set_updated_at.';

COMMENT ON INDEX command_inbox_pkey IS 'Primary key of command_inbox.';
COMMENT ON INDEX command_inbox_idempotency_key_key IS 'Idempotency: one command per idempotency key, whatever its status.';
COMMENT ON CONSTRAINT command_inbox_idempotency_key_key ON command_inbox IS 'Idempotency: one command per idempotency key.';
COMMENT ON CONSTRAINT command_inbox_command_type_not_blank ON command_inbox IS 'command_type is not blank.';
COMMENT ON CONSTRAINT command_inbox_idempotency_key_not_blank ON command_inbox IS 'idempotency_key is not blank.';
COMMENT ON CONSTRAINT command_inbox_payload_object ON command_inbox IS 'payload is always a JSON object.';
COMMENT ON CONSTRAINT command_inbox_retry_count_non_negative ON command_inbox IS 'retry_count is never negative.';
COMMENT ON CONSTRAINT command_inbox_failed_has_error ON command_inbox IS 'A FAILED command says why in error_message.';

-- One unfinished command per (session, command type); finished ones do not count, so the
-- same command can be sent again once the previous one is COMPLETED or FAILED.
CREATE UNIQUE INDEX uq_command_inbox_session_type_active
    ON command_inbox (session_id, command_type)
    WHERE status IN ('RECEIVED', 'PROCESSING');

COMMENT ON INDEX uq_command_inbox_session_type_active IS
    'At most one unfinished (RECEIVED or PROCESSING) command per (session_id, command_type); '
    'COMPLETED and FAILED commands are outside the index, so the command may be sent again.';

CREATE TRIGGER command_inbox_set_updated_at
    BEFORE UPDATE ON command_inbox
    FOR EACH ROW EXECUTE FUNCTION trigger_set_timestamp();

COMMENT ON TRIGGER command_inbox_set_updated_at ON command_inbox IS
    'Keeps command_inbox.updated_at current on every UPDATE.';
