-- 04-genesis.sql: genesis sessions, the guided multi-stage dialogue that sets up a new novel.
--
-- A session belongs to a novel row created when the session starts (ON DELETE CASCADE:
-- deleting the novel removes its sessions). At most one session per novel is
-- IN_PROGRESS. Terminal sessions (COMPLETED, ABANDONED) carry finished_at; a COMPLETED
-- session is at stage FINISHED and has its final settings.

CREATE TABLE genesis_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    novel_id UUID NOT NULL REFERENCES novels (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    status genesis_status NOT NULL DEFAULT 'IN_PROGRESS',
    current_stage genesis_stage NOT NULL DEFAULT 'CONCEPT_SELECTION',
    initial_input JSONB NOT NULL DEFAULT '{}'::jsonb,
    final_settings JSONB,
    finished_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT genesis_sessions_initial_input_object
        CHECK (jsonb_typeof(initial_input) = 'object'),
    CONSTRAINT genesis_sessions_final_settings_object
        CHECK (final_settings IS NULL OR jsonb_typeof(final_settings) = 'object'),
    CONSTRAINT genesis_sessions_finished_at_iff_terminal
        CHECK ((status IN ('COMPLETED', 'ABANDONED')) = (finished_at IS NOT NULL)),
    CONSTRAINT genesis_sessions_completed_is_finished
        CHECK (status <> 'COMPLETED' OR (current_stage = 'FINISHED' AND final_settings IS NOT NULL)),
    CONSTRAINT genesis_sessions_finished_stage_is_completed
        CHECK (current_stage <> 'FINISHED' OR status = 'COMPLETED')
);

COMMENT ON TABLE genesis_sessions IS
    'Creative genesis sessions: the staged dialogue (concept, story, worldview, characters, '
    'plot outline) in which a user sets up a novel. One row per session.';
COMMENT ON COLUMN genesis_sessions.id IS 'Session id (random UUID).';
COMMENT ON COLUMN genesis_sessions.novel_id IS 'Novel this session sets up; sessions are deleted with their novel.';
COMMENT ON COLUMN genesis_sessions.user_id IS 'User who runs the session (id from the identity service; no local users table).';
COMMENT ON COLUMN genesis_sessions.status IS 'IN_PROGRESS, or terminal COMPLETED / ABANDONED.';
COMMENT ON COLUMN genesis_sessions.current_stage IS 'Stage the session is at; FINISHED only once COMPLETED.';
COMMENT ON COLUMN genesis_sessions.initial_input IS 'What the user gave when starting the session (JSON object, {} when nothing).';
COMMENT ON COLUMN genesis_sessions.final_settings IS 'Settings confirmed at the end of the session (JSON object); required once COMPLETED, NULL before.';
COMMENT ON COLUMN genesis_sessions.finished_at IS 'When the session reached a terminal status (COMPLETED or ABANDONED); NULL while IN_PROGRESS.';
COMMENT ON COLUMN genesis_sessions.created_at IS 'When the session was started.';
COMMENT ON COLUMN genesis_sessions.updated_at IS 'When the row was last changed; maintained by trigger genesis_sessions_set_updated_at.';

COMMENT ON INDEX genesis_sessions_pkey IS 'Primary key of genesis_sessions.';
COMMENT ON CONSTRAINT genesis_sessions_novel_id_fkey ON genesis_sessions IS 'genesis_sessions.novel_id refers to novels; deleting the novel deletes its sessions.';
COMMENT ON CONSTRAINT genesis_sessions_initial_input_object ON genesis_sessions IS 'initial_input is always a JSON object.';
COMMENT ON CONSTRAINT genesis_sessions_final_settings_object ON genesis_sessions IS 'final_settings is NULL or a JSON object.';
COMMENT ON CONSTRAINT genesis_sessions_finished_at_iff_terminal ON genesis_sessions IS 'finished_at is set exactly when the status is terminal.';
COMMENT ON CONSTRAINT genesis_sessions_completed_is_finished ON genesis_sessions IS 'A COMPLETED session is at stage FINISHED and has final_settings.';
COMMENT ON CONSTRAINT genesis_sessions_finished_stage_is_completed ON genesis_sessions IS 'Stage FINISHED is only reached together with status COMPLETED.';

-- At most one session per novel may be running at a time.
CREATE UNIQUE INDEX uq_genesis_sessions_novel_in_progress
    ON genesis_sessions (novel_id)
    WHERE status = 'IN_PROGRESS';

COMMENT ON INDEX uq_genesis_sessions_novel_in_progress IS
    'At most one IN_PROGRESS genesis session per novel; finished sessions are not limited.';

CREATE TRIGGER genesis_sessions_set_updated_at
    BEFORE UPDATE ON genesis_sessions
    FOR EACH ROW EXECUTE FUNCTION trigger_set_timestamp();

COMMENT ON TRIGGER genesis_sessions_set_updated_at ON genesis_sessions IS
    'Keeps genesis_sessions.updated_at current on every UPDATE.';
