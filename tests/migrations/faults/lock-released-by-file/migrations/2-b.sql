select pg_advisory_unlock_all();
create table b (id int);
