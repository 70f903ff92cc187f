-- 08-event-outbox.sql: event_outbox, the transactional outbox towards the message broker.
--
-- Messages are written in the same transaction as the state change that produces them
-- and published afterwards by a relay, which marks them SENT (with sent_at). A message
-- whose retry_count reached max_retries stays PENDING for an operator to look at; the
-- relay should skip it (see v_outbox_backlog.exhausted_count).

CREATE TABLE event_outbox (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    topic VARCHAR(255) NOT NULL,
    key VARCHAR(255),
    partition_key VARCHAR(255),
    payload JSONB NOT NULL,
    headers JSONB NOT NULL DEFAULT '{}'::jsonb,
    status outbox_status NOT NULL DEFAULT 'PENDING',
    retry_count INTEGER NOT NULL DEFAULT 0,
    max_retries INTEGER NOT NULL DEFAULT 5,
    last_error TEXT,
    scheduled_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT event_outbox_topic_not_blank CHECK (btrim(topic) <> ''),
    CONSTRAINT event_outbox_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT event_outbox_headers_object CHECK (jsonb_typeof(headers) = 'object'),
    CONSTRAINT event_outbox_retries_within_max
        CHECK (retry_count >= 0 AND max_retries >= 0 AND retry_count <= max_retries),
    CONSTRAINT event_outbox_sent_at_iff_sent CHECK ((status = 'SENT') = (sent_at IS NOT NULL))
);

COMMENT ON TABLE event_outbox IS
    'Transactional outbox: messages written atomically with the state change that produced '
    'them, then published to the broker by a relay that marks them SENT.';
COMMENT ON COLUMN event_outbox.id IS 'Message id (random UUID).';
COMMENT ON COLUMN event_outbox.topic IS 'Broker topic to publish to; not blank.';
COMMENT ON COLUMN event_outbox.key IS 'Message key given to the broker (e.g. the aggregate id); NULL for none.';
COMMENT ON COLUMN event_outbox.partition_key IS 'Explicit partitioning key when it differs from key; NULL to let the broker use key.';
COMMENT ON COLUMN event_outbox.payload IS 'Message body (JSON object).';
COMMENT ON COLUMN event_outbox.headers IS 'Message headers such as event type, correlation id, trace ids (JSON object, {} when none).';
COMMENT ON COLUMN event_outbox.status IS 'PENDING until published, then SENT.';
COMMENT ON COLUMN event_outbox.retry_count IS 'Failed publish attempts so far; never above max_retries.';
COMMENT ON COLUMN event_outbox.max_retries IS 'Publish attempts allowed before the message needs an operator.';
COMMENT ON COLUMN event_outbox.last_error IS 'Error of the last failed publish attempt; NULL when none failed.';
COMMENT ON COLUMN event_outbox.scheduled_at IS 'Earliest time to publish (now by default; later for a retry back-off).';
COMMENT ON COLUMN event_outbox.sent_at IS 'When the message was published; set exactly when status is SENT.';
COMMENT ON COLUMN event_outbox.created_at IS 'When the message was written.';

COMMENT ON INDEX event_outbox_pkey IS 'Primary key of event_outbox.';
COMMENT ON CONSTRAINT event_outbox_topic_not_blank ON event_outbox IS 'topic is not blank.';
COMMENT ON CONSTRAINT event_outbox_payload_object ON event_outbox IS 'payload is always a JSON object.';
COMMENT ON CONSTRAINT event_outbox_headers_object ON event_outbox IS 'headers is always a JSON object.';
COMMENT ON CONSTRAINT event_outbox_retries_within_max ON event_outbox IS '0 <= retry_count <= max_retries.';
COMMENT ON CONSTRAINT event_outbox_sent_at_iff_sent ON event_outbox IS 'sent_at is set exactly when status is SENT.';
