create table a (id int, v text);
COPY a (id, v) FROM stdin;
1	x
\.
