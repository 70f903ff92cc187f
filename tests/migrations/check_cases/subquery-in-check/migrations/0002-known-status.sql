-- Only statuses that appear in a list.
alter table tasks
    add constraint tasks_known_status check (status in (select 'done'::task_status));
