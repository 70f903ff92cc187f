create table half_a (id int);
select 'a\''; commit; select '''; create table half_b (id int);
select 1 / 0;
