create table a (id int);
commit;
create table b (id int);
