create table a (id int);
/* no end
