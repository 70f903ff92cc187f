create function f() returns int language sql as $body$
  select 1;
