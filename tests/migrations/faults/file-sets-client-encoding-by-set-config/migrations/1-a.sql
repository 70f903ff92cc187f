select pg_catalog.set_config('client_encoding', 'LATIN1', false);
