create table b (id int);
alter table public.schema_migrations add constraint no_more check (version < 2) not valid;
