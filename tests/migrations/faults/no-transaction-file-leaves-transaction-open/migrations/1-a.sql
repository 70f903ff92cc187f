-- sqlmig: no-transaction
create table a (id int);
begin;
create table b (id int);
