-- Each task gets a random token (uuid-ossp was never created).
create table task_tokens (
    task_id bigint primary key references tasks (id),
    token uuid not null default uuid_generate_v4()
);
