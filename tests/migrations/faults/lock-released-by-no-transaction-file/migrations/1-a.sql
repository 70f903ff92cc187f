-- sqlmig: no-transaction
select pg_advisory_unlock_all();
create table a (id int);
