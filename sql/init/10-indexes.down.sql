-- 10-indexes.down.sql: undoes 10-indexes.sql (the two views, then the secondary indexes),
-- in reverse order; the tables stay (their own down files drop them).

DROP VIEW v_outbox_backlog;
DROP VIEW v_async_task_stats;

DROP INDEX idx_genesis_sessions_user_created_at;
DROP INDEX idx_genesis_sessions_novel_id;

DROP INDEX idx_flow_resume_handles_waiting_expires_at;
DROP INDEX idx_flow_resume_handles_flow_run;

DROP INDEX idx_event_outbox_topic_created_at;
DROP INDEX idx_event_outbox_pending_scheduled_at;

DROP INDEX idx_async_tasks_triggered_by_command_id;
DROP INDEX idx_async_tasks_task_type_status;
DROP INDEX idx_async_tasks_active;

DROP INDEX idx_command_inbox_unfinished;
DROP INDEX idx_command_inbox_session_created_at;

DROP INDEX idx_domain_events_created_at;
DROP INDEX idx_domain_events_event_type_created_at;
DROP INDEX idx_domain_events_causation_id;
DROP INDEX idx_domain_events_correlation_id;
DROP INDEX idx_domain_events_aggregate;
