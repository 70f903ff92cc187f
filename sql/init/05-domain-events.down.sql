-- 05-domain-events.down.sql: undoes 05-domain-events.sql (domain_events and its trigger).
--
-- Dropping the table also drops its constraints, its primary key index and the comments.

DROP TRIGGER domain_events_append_only ON domain_events;
DROP TABLE domain_events;
