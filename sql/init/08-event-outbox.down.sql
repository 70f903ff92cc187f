-- 08-event-outbox.down.sql: undoes 08-event-outbox.sql (the event_outbox table).
--
-- Dropping the table also drops its constraints, its primary key index and the comments.

DROP TABLE event_outbox;
