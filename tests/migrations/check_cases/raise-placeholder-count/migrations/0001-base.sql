-- The schema every case starts from (applied to the target before check runs).
create type task_status as enum ('queued', 'running', 'done');
create table tasks (
    id bigint primary key,
    name text not null,
    status task_status not null default 'queued',
    created_at timestamptz not null default now()
);
