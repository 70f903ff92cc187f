create table b (id int);
insert into a values (1);
