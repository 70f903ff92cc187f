-- Index the year of each task: to_char(timestamptz) depends on TimeZone (STABLE).
create index tasks_name on tasks (name);
create index tasks_year on tasks ((to_char(created_at, 'YYYY')));
