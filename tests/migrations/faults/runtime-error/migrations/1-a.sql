create table a (id int primary key);
insert into a values (1);
