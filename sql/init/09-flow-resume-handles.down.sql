-- 09-flow-resume-handles.down.sql: undoes 09-flow-resume-handles.sql (flow_resume_handles,
-- its index and trigger).
--
-- Dropping the table also drops its constraints, its primary key index and the comments.

DROP TRIGGER flow_resume_handles_set_updated_at ON flow_resume_handles;
DROP INDEX uq_flow_resume_handles_correlation_waiting;
DROP TABLE flow_resume_handles;
