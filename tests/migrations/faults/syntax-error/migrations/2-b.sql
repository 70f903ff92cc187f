create table b (id int);

create tabel c (id int);
