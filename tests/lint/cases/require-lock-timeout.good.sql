SELECT set_config('lock_timeout', '5s', true);
ALTER TABLE orders ADD COLUMN note text;
