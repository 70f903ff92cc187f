create table b (id int);
select 'abc;
