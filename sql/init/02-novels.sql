-- 02-novels.sql: minimal novels core table, the aggregate that genesis sessions create and refer to.

CREATE TABLE novels (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    title VARCHAR(255) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT novels_title_not_blank CHECK (btrim(title) <> '')
);

COMMENT ON TABLE novels IS
    'Core novel aggregate (kept minimal here): one row per novel; genesis sessions and '
    'domain events refer to it by id.';
COMMENT ON COLUMN novels.id IS 'Novel id (random UUID).';
COMMENT ON COLUMN novels.title IS 'Working title shown to the author; not blank.';
COMMENT ON COLUMN novels.created_at IS 'When the novel row was created.';
COMMENT ON COLUMN novels.updated_at IS 'When the row was last changed; maintained by trigger novels_set_updated_at.';
COMMENT ON INDEX novels_pkey IS 'Primary key of novels.';
COMMENT ON CONSTRAINT novels_title_not_blank ON novels IS 'A novel always has a non-blank title.';

CREATE TRIGGER novels_set_updated_at
    BEFORE UPDATE ON novels
    FOR EACH ROW EXECUTE FUNCTION trigger_set_timestamp();

COMMENT ON TRIGGER novels_set_updated_at ON novels IS 'Keeps novels.updated_at current on every UPDATE.';
