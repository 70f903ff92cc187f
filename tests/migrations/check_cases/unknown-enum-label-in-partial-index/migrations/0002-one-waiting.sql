-- At most one waiting task per name: but the enum has no WAITING label.
create unique index one_waiting on tasks (name)
    where status = 'WAITING';
