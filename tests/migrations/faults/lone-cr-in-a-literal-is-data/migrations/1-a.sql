create table t (v text);
insert into t values ('ab');
