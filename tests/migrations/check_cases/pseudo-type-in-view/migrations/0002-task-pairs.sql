-- A view over id and name, as one value.
create view task_pairs as
select id, row(id, name) as pair from tasks;
