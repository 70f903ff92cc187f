-- Tell the log when a task is done.
create function log_done(task bigint) returns void language plpgsql as $$
begin
    raise notice 'task % is done after % tries', task;
end
$$;
