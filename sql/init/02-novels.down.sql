-- 02-novels.down.sql: undoes 02-novels.sql (the novels table, its trigger and comments).

DROP TRIGGER novels_set_updated_at ON novels;
DROP TABLE novels;
