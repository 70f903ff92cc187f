create table a (id int);
\connect other
create table b (id int);
