create table t (id int);
insert into t values (1);
create table facts as select current_user::text as who, current_setting('search_path') as path, current_setting('TimeZone') as tz, pg_sleep(0.05)::text as slept;
