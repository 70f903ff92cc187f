-- 10-indexes.sql: secondary indexes for the access paths of tables 02-09, and statistics views.
--
-- Constraint-like indexes (primary keys, unique keys, the partial unique indexes of
-- command_inbox, flow_resume_handles and genesis_sessions) live with their tables.
-- Index predicates only compare columns with constants (no now() or other
-- non-IMMUTABLE function). The views give every column a concrete type.

-- domain_events ------------------------------------------------------------------

CREATE INDEX idx_domain_events_aggregate
    ON domain_events (aggregate_type, aggregate_id, created_at);
COMMENT ON INDEX idx_domain_events_aggregate IS
    'Replays one aggregate''s events in order: WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY created_at.';

CREATE INDEX idx_domain_events_correlation_id
    ON domain_events (correlation_id, created_at)
    WHERE correlation_id IS NOT NULL;
COMMENT ON INDEX idx_domain_events_correlation_id IS
    'All events of one business flow, in order (tracing by correlation_id).';

CREATE INDEX idx_domain_events_causation_id
    ON domain_events (causation_id)
    WHERE causation_id IS NOT NULL;
COMMENT ON INDEX idx_domain_events_causation_id IS
    'Events directly caused by a given event or command.';

CREATE INDEX idx_domain_events_event_type_created_at
    ON domain_events (event_type, created_at);
COMMENT ON INDEX idx_domain_events_event_type_created_at IS
    'Events of one type over time (projections and subscribers catching up on a type).';

CREATE INDEX idx_domain_events_created_at
    ON domain_events (created_at);
COMMENT ON INDEX idx_domain_events_created_at IS
    'Global chronological reads of the event store (catch-up subscriptions, time windows).';

-- command_inbox ------------------------------------------------------------------

CREATE INDEX idx_command_inbox_session_created_at
    ON command_inbox (session_id, created_at);
COMMENT ON INDEX idx_command_inbox_session_created_at IS
    'Command history of one session, in order.';

CREATE INDEX idx_command_inbox_unfinished
    ON command_inbox (status, created_at)
    WHERE status IN ('RECEIVED', 'PROCESSING');
COMMENT ON INDEX idx_command_inbox_unfinished IS
    'Unfinished commands, oldest first (handlers picking up work, stuck-command monitoring).';

-- async_tasks --------------------------------------------------------------------

CREATE INDEX idx_async_tasks_active
    ON async_tasks (status, created_at)
    WHERE status IN ('PENDING', 'RUNNING');
COMMENT ON INDEX idx_async_tasks_active IS
    'Queued and running tasks, oldest first (workers picking up work, monitoring).';

CREATE INDEX idx_async_tasks_task_type_status
    ON async_tasks (task_type, status);
COMMENT ON INDEX idx_async_tasks_task_type_status IS
    'Tasks of one type by status (dashboards, v_async_task_stats).';

CREATE INDEX idx_async_tasks_triggered_by_command_id
    ON async_tasks (triggered_by_command_id)
    WHERE triggered_by_command_id IS NOT NULL;
COMMENT ON INDEX idx_async_tasks_triggered_by_command_id IS
    'Tasks started by a command; also serves the ON DELETE SET NULL of the foreign key.';

-- event_outbox -------------------------------------------------------------------

CREATE INDEX idx_event_outbox_pending_scheduled_at
    ON event_outbox (scheduled_at)
    WHERE status = 'PENDING';
COMMENT ON INDEX idx_event_outbox_pending_scheduled_at IS
    'The relay''s work queue: PENDING messages by scheduled_at (WHERE status = ''PENDING'' AND scheduled_at <= now()).';

CREATE INDEX idx_event_outbox_topic_created_at
    ON event_outbox (topic, created_at);
COMMENT ON INDEX idx_event_outbox_topic_created_at IS
    'Messages of one topic over time (inspection, replays, clean-up of old SENT rows).';

-- flow_resume_handles ------------------------------------------------------------

CREATE INDEX idx_flow_resume_handles_flow_run
    ON flow_resume_handles (flow_run_id, task_name);
COMMENT ON INDEX idx_flow_resume_handles_flow_run IS
    'Handles of one flow run (and step), e.g. to cancel or inspect a run.';

CREATE INDEX idx_flow_resume_handles_waiting_expires_at
    ON flow_resume_handles (expires_at)
    WHERE status IN ('PENDING_PAUSE', 'PAUSED') AND expires_at IS NOT NULL;
COMMENT ON INDEX idx_flow_resume_handles_waiting_expires_at IS
    'The expiry sweeper''s queue: waiting handles by expires_at (the sweeper compares with now() in its query).';

-- genesis_sessions ---------------------------------------------------------------

CREATE INDEX idx_genesis_sessions_novel_id
    ON genesis_sessions (novel_id);
COMMENT ON INDEX idx_genesis_sessions_novel_id IS
    'All sessions of a novel; also serves the ON DELETE CASCADE of the foreign key.';

CREATE INDEX idx_genesis_sessions_user_created_at
    ON genesis_sessions (user_id, created_at);
COMMENT ON INDEX idx_genesis_sessions_user_created_at IS
    'A user''s sessions, in order.';

-- statistics views ---------------------------------------------------------------

CREATE VIEW v_async_task_stats AS
SELECT
    t.task_type::varchar(255) AS task_type,
    t.status AS status,
    count(*)::bigint AS task_count,
    round(avg(t.progress), 2)::numeric(5, 2) AS avg_progress,
    min(t.created_at)::timestamptz AS oldest_created_at,
    max(t.updated_at)::timestamptz AS last_updated_at,
    avg(EXTRACT(EPOCH FROM (t.completed_at - t.started_at)))::double precision
        AS avg_duration_seconds
FROM async_tasks AS t
GROUP BY t.task_type, t.status;

COMMENT ON VIEW v_async_task_stats IS
    'Task counts and timings per (task_type, status), for dashboards and alerting.';
COMMENT ON COLUMN v_async_task_stats.task_type IS 'Kind of task.';
COMMENT ON COLUMN v_async_task_stats.status IS 'Task status.';
COMMENT ON COLUMN v_async_task_stats.task_count IS 'Number of tasks of this type in this status.';
COMMENT ON COLUMN v_async_task_stats.avg_progress IS 'Average progress in percent.';
COMMENT ON COLUMN v_async_task_stats.oldest_created_at IS 'Creation time of the oldest such task.';
COMMENT ON COLUMN v_async_task_stats.last_updated_at IS 'Latest change among these tasks.';
COMMENT ON COLUMN v_async_task_stats.avg_duration_seconds IS
    'Average run time (completed_at - started_at) in seconds over the tasks that have both; NULL when none has.';

CREATE VIEW v_outbox_backlog AS
SELECT
    o.topic::varchar(255) AS topic,
    count(*)::bigint AS pending_count,
    count(*) FILTER (WHERE o.scheduled_at <= now())::bigint AS due_count,
    count(*) FILTER (WHERE o.retry_count >= o.max_retries)::bigint AS exhausted_count,
    min(o.scheduled_at)::timestamptz AS oldest_scheduled_at,
    max(o.retry_count)::integer AS max_retry_count
FROM event_outbox AS o
WHERE o.status = 'PENDING'
GROUP BY o.topic;

COMMENT ON VIEW v_outbox_backlog IS
    'Outbox messages not yet published, per topic: how many, how many are due, how many '
    'exhausted their retries, and how old the oldest is.';
COMMENT ON COLUMN v_outbox_backlog.topic IS 'Broker topic.';
COMMENT ON COLUMN v_outbox_backlog.pending_count IS 'PENDING messages of the topic.';
COMMENT ON COLUMN v_outbox_backlog.due_count IS 'PENDING messages whose scheduled_at has passed (ready to publish).';
COMMENT ON COLUMN v_outbox_backlog.exhausted_count IS 'PENDING messages with retry_count >= max_retries (the relay gives up on them; need an operator).';
COMMENT ON COLUMN v_outbox_backlog.oldest_scheduled_at IS 'Earliest scheduled_at among the PENDING messages.';
COMMENT ON COLUMN v_outbox_backlog.max_retry_count IS 'Highest retry_count among the PENDING messages.';
