create table a (id int, v text);
-- rows as pg_dump writes them
COPY a (id, v) FROM stdin;
1	x
2	\N
three	z
4	w
\.
