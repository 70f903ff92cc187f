drop table a;
select 1 / 0;
