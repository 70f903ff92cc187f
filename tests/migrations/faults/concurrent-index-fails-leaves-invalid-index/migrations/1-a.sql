create table t (v int);
insert into t values (1), (1);
