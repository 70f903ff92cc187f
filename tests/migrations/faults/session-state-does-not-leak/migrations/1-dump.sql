SELECT pg_catalog.set_config('search_path', '', false);
SET TIME ZONE 'Asia/Tokyo';
SET ROLE pg_monitor;
CREATE TEMP TABLE t (id int);
SET lock_timeout = '1ms';
SET statement_timeout = '20ms';
