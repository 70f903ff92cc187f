-- sqlmig: no-transaction
create table a (id int);
select 1 / 0;
create table b (id int);
