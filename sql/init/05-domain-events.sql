-- 05-domain-events.sql: domain_events, the append-only event store (single source of truth).
--
-- Every business fact is one row here; state tables are projections of it. Rows are
-- never changed or removed: a trigger rejects UPDATE and DELETE (corrections are new,
-- compensating events). created_at uses clock_timestamp() so that several events
-- appended by one transaction still get increasing timestamps.

CREATE TABLE domain_events (
    event_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    correlation_id UUID,
    causation_id UUID,
    event_type VARCHAR(255) NOT NULL,
    event_version INTEGER NOT NULL DEFAULT 1,
    aggregate_type VARCHAR(255) NOT NULL,
    aggregate_id UUID NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}'::jsonb,
    metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT domain_events_event_type_not_blank CHECK (btrim(event_type) <> ''),
    CONSTRAINT domain_events_aggregate_type_not_blank CHECK (btrim(aggregate_type) <> ''),
    CONSTRAINT domain_events_event_version_positive CHECK (event_version > 0),
    CONSTRAINT domain_events_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT domain_events_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON TABLE domain_events IS
    'Append-only event store and single source of truth for business events; UPDATE and '
    'DELETE are rejected by trigger domain_events_append_only.';
COMMENT ON COLUMN domain_events.event_id IS 'Unique id of the event (random UUID); consumers use it to de-duplicate.';
COMMENT ON COLUMN domain_events.correlation_id IS 'Id shared by every event and command of one business flow (e.g. the originating command); NULL when unknown.';
COMMENT ON COLUMN domain_events.causation_id IS 'Id of the event or command that directly caused this event; NULL for a flow''s first event.';
COMMENT ON COLUMN domain_events.event_type IS 'Event name, e.g. Genesis.Session.Started; not blank.';
COMMENT ON COLUMN domain_events.event_version IS 'Schema version of the event type''s payload (starts at 1).';
COMMENT ON COLUMN domain_events.aggregate_type IS 'Type of the aggregate the event belongs to, e.g. novel or genesis_session.';
COMMENT ON COLUMN domain_events.aggregate_id IS 'Id of the aggregate the event belongs to.';
COMMENT ON COLUMN domain_events.payload IS 'Event data (JSON object).';
COMMENT ON COLUMN domain_events.metadata IS 'Technical context such as user id, source service or trace ids (JSON object).';
COMMENT ON COLUMN domain_events.created_at IS 'When the event was appended (clock_timestamp(): increasing within a transaction).';

COMMENT ON INDEX domain_events_pkey IS 'Primary key of domain_events.';
COMMENT ON CONSTRAINT domain_events_event_type_not_blank ON domain_events IS 'event_type is not blank.';
COMMENT ON CONSTRAINT domain_events_aggregate_type_not_blank ON domain_events IS 'aggregate_type is not blank.';
COMMENT ON CONSTRAINT domain_events_event_version_positive ON domain_events IS 'Event schema versions start at 1.';
COMMENT ON CONSTRAINT domain_events_payload_object ON domain_events IS 'payload is always a JSON object.';
COMMENT ON CONSTRAINT domain_events_metadata_object ON domain_events IS 'metadata is always a JSON object.';

CREATE TRIGGER domain_events_append_only
    BEFORE UPDATE OR DELETE ON domain_events
    FOR EACH ROW EXECUTE FUNCTION trigger_reject_modification(
        'Domain events are immutable: append a compensating event instead.'
    );

COMMENT ON TRIGGER domain_events_append_only ON domain_events IS
    'Makes domain_events append-only: every UPDATE or DELETE fails with restrict_violation (23001).';
