-- 09-flow-resume-handles.sql: flow_resume_handles, handles to resume paused workflow runs.
--
-- A workflow step that waits for a user (or an external system) registers a handle;
-- when the answer arrives, the handle is looked up by correlation id and the flow run
-- is resumed with the answer as resume_payload.
--
-- "Waiting" handles. The first design guarded uniqueness with WHERE status = 'WAITING',
-- but handle_status has no WAITING label (that predicate fails with "invalid input
-- value for enum"). A handle is still waiting while it is PENDING_PAUSE (the pause was
-- requested; the answer may even arrive before the flow has parked, and must find the
-- handle) or PAUSED (the flow is parked). RESUMED and EXPIRED are terminal. So at most
-- one handle per correlation id may be in PENDING_PAUSE or PAUSED, and a new handle for
-- the same correlation id can be registered once the previous one is RESUMED or EXPIRED.
-- Expiry cannot be part of the predicate (now() is not IMMUTABLE): a sweeper must move
-- handles past expires_at to EXPIRED to free the slot.

CREATE TABLE flow_resume_handles (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    correlation_id UUID NOT NULL,
    flow_run_id VARCHAR(255) NOT NULL,
    task_name VARCHAR(255) NOT NULL,
    resume_handle JSONB NOT NULL,
    resume_payload JSONB,
    status handle_status NOT NULL DEFAULT 'PENDING_PAUSE',
    timeout_seconds INTEGER,
    context_data JSONB NOT NULL DEFAULT '{}'::jsonb,
    expires_at TIMESTAMPTZ,
    resumed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT flow_resume_handles_flow_run_id_not_blank CHECK (btrim(flow_run_id) <> ''),
    CONSTRAINT flow_resume_handles_task_name_not_blank CHECK (btrim(task_name) <> ''),
    CONSTRAINT flow_resume_handles_resume_handle_object
        CHECK (jsonb_typeof(resume_handle) = 'object'),
    CONSTRAINT flow_resume_handles_resume_payload_object
        CHECK (resume_payload IS NULL OR jsonb_typeof(resume_payload) = 'object'),
    CONSTRAINT flow_resume_handles_context_data_object
        CHECK (jsonb_typeof(context_data) = 'object'),
    CONSTRAINT flow_resume_handles_timeout_positive
        CHECK (timeout_seconds IS NULL OR timeout_seconds > 0),
    CONSTRAINT flow_resume_handles_resumed_at_iff_resumed
        CHECK ((status = 'RESUMED') = (resumed_at IS NOT NULL)),
    CONSTRAINT flow_resume_handles_expired_has_expires_at
        CHECK (status <> 'EXPIRED' OR expires_at IS NOT NULL)
);

COMMENT ON TABLE flow_resume_handles IS
    'Resume handles of paused workflow runs: what the orchestrator needs to resume a flow '
    'run waiting for an answer, looked up by correlation id.';
COMMENT ON COLUMN flow_resume_handles.id IS 'Handle id (random UUID).';
COMMENT ON COLUMN flow_resume_handles.correlation_id IS 'Business id the answer will carry (e.g. the command or session id); unique among waiting handles.';
COMMENT ON COLUMN flow_resume_handles.flow_run_id IS 'Orchestrator id of the paused flow run.';
COMMENT ON COLUMN flow_resume_handles.task_name IS 'Name of the flow step that waits.';
COMMENT ON COLUMN flow_resume_handles.resume_handle IS 'Opaque data the orchestrator needs to resume the run (JSON object).';
COMMENT ON COLUMN flow_resume_handles.resume_payload IS 'Answer the run was (or will be) resumed with (JSON object); NULL until it arrives.';
COMMENT ON COLUMN flow_resume_handles.status IS 'PENDING_PAUSE and PAUSED (waiting), or terminal RESUMED / EXPIRED.';
COMMENT ON COLUMN flow_resume_handles.timeout_seconds IS 'How long the step is willing to wait, in seconds; NULL for no timeout.';
COMMENT ON COLUMN flow_resume_handles.context_data IS 'Extra context for whoever answers, e.g. the question shown to the user (JSON object).';
COMMENT ON COLUMN flow_resume_handles.expires_at IS 'When the handle stops being valid; NULL for never. Required once EXPIRED.';
COMMENT ON COLUMN flow_resume_handles.resumed_at IS 'When the run was resumed; set exactly when status is RESUMED.';
COMMENT ON COLUMN flow_resume_handles.created_at IS 'When the handle was registered.';
COMMENT ON COLUMN flow_resume_handles.updated_at IS 'When the row was last changed; maintained by trigger flow_resume_handles_set_updated_at.';

COMMENT ON INDEX flow_resume_handles_pkey IS 'Primary key of flow_resume_handles.';
COMMENT ON CONSTRAINT flow_resume_handles_flow_run_id_not_blank ON flow_resume_handles IS 'flow_run_id is not blank.';
COMMENT ON CONSTRAINT flow_resume_handles_task_name_not_blank ON flow_resume_handles IS 'task_name is not blank.';
COMMENT ON CONSTRAINT flow_resume_handles_resume_handle_object ON flow_resume_handles IS 'resume_handle is always a JSON object.';
COMMENT ON CONSTRAINT flow_resume_handles_resume_payload_object ON flow_resume_handles IS 'resume_payload is NULL or a JSON object.';
COMMENT ON CONSTRAINT flow_resume_handles_context_data_object ON flow_resume_handles IS 'context_data is always a JSON object.';
COMMENT ON CONSTRAINT flow_resume_handles_timeout_positive ON flow_resume_handles IS 'A timeout, when given, is positive.';
COMMENT ON CONSTRAINT flow_resume_handles_resumed_at_iff_resumed ON flow_resume_handles IS 'resumed_at is set exactly when status is RESUMED.';
COMMENT ON CONSTRAINT flow_resume_handles_expired_has_expires_at ON flow_resume_handles IS 'An EXPIRED handle says when it expired.';

-- One waiting handle per correlation id. "Waiting" = PENDING_PAUSE or PAUSED: the enum
-- has no WAITING label (see the header of this file for the reasoning).
CREATE UNIQUE INDEX uq_flow_resume_handles_correlation_waiting
    ON flow_resume_handles (correlation_id)
    WHERE status IN ('PENDING_PAUSE', 'PAUSED');

COMMENT ON INDEX uq_flow_resume_handles_correlation_waiting IS
    'At most one waiting handle per correlation_id. handle_status has no WAITING label, so '
    '"waiting" means PENDING_PAUSE (pause requested, an early answer must still find the '
    'handle) or PAUSED (run parked); RESUMED and EXPIRED handles are outside the index, so '
    'the correlation id can wait again. Expiry by time is not in the predicate (now() is not '
    'IMMUTABLE): a sweeper sets EXPIRED.';

CREATE TRIGGER flow_resume_handles_set_updated_at
    BEFORE UPDATE ON flow_resume_handles
    FOR EACH ROW EXECUTE FUNCTION trigger_set_timestamp();

COMMENT ON TRIGGER flow_resume_handles_set_updated_at ON flow_resume_handles IS
    'Keeps flow_resume_handles.updated_at current on every UPDATE.';
