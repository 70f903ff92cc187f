create table a (id int);
copy a from stdin;
