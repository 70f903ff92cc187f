-- 11-memories.sql: memories, the items produced by the memory/episode pipeline.
--
-- status is TEXT with a CHECK constraint rather than an enum type: the pipeline's states
-- are expected to change, and a CHECK can be replaced (values added and removed) inside
-- one migration transaction, while an enum label can never be removed and a label added
-- by ALTER TYPE ... ADD VALUE cannot be used in the transaction that adds it. The Python
-- side mirrors the allowed values as a Literal (shared_types.MemoryStatus).

CREATE TABLE memories (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id UUID NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'PENDING',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT memories_title_not_blank CHECK (btrim(title) <> ''),
    CONSTRAINT memories_status_check CHECK (status IN ('PENDING', 'PROCESSING', 'READY', 'FAILED'))
);

COMMENT ON TABLE memories IS
    'Memories (episodes) built by the memory pipeline for a project; each one is processed '
    'by an async task whose progress is streamed to browsers (see task_progress).';
COMMENT ON COLUMN memories.id IS 'Memory id (random UUID).';
COMMENT ON COLUMN memories.project_id IS 'Project (e.g. novel) the memory belongs to.';
COMMENT ON COLUMN memories.title IS 'Short title of the memory; not blank.';
COMMENT ON COLUMN memories.content IS 'Text of the memory; empty until the pipeline has produced it.';
COMMENT ON COLUMN memories.status IS
    'Pipeline state: PENDING (queued), PROCESSING, READY (content usable) or FAILED; '
    'a TEXT column checked by memories_status_check.';
COMMENT ON COLUMN memories.created_at IS 'When the memory was created.';
COMMENT ON COLUMN memories.updated_at IS 'When the row was last changed; maintained by trigger memories_set_updated_at.';

COMMENT ON INDEX memories_pkey IS 'Primary key of memories.';
COMMENT ON CONSTRAINT memories_title_not_blank ON memories IS 'title is not blank.';
COMMENT ON CONSTRAINT memories_status_check ON memories IS
    'Allowed memory states; replace this constraint (not an enum) to change them.';

CREATE INDEX idx_memories_project_created_at
    ON memories (project_id, created_at);
COMMENT ON INDEX idx_memories_project_created_at IS 'A project''s memories, in order.';

CREATE INDEX idx_memories_project_status
    ON memories (project_id, status);
COMMENT ON INDEX idx_memories_project_status IS 'A project''s memories in a given state (e.g. READY ones).';

CREATE TRIGGER memories_set_updated_at
    BEFORE UPDATE ON memories
    FOR EACH ROW EXECUTE FUNCTION trigger_set_timestamp();

COMMENT ON TRIGGER memories_set_updated_at ON memories IS
    'Keeps memories.updated_at current on every UPDATE.';
