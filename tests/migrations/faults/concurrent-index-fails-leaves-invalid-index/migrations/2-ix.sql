-- sqlmig: no-transaction
create unique index concurrently t_v_key on t (v);
