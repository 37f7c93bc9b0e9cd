-- spool.import_advance(run bigint, position text, scanned integer, inserted integer,
--                      updated integer, unchanged integer, conflicts integer, tasks integer,
--                      jobs_available boolean) -> void
-- For import-prisma, last in each batch's transaction: records the run's position (the last
-- legacy id of the batch) and adds the batch's counts to import_runs row run, so that the
-- position commits with exactly the rows it covers. jobs_available: the batch made jobs
-- pending (pg workers are woken through spool.notify). Unknown run: nothing recorded.
CREATE OR REPLACE FUNCTION spool.import_advance(p_run bigint, p_position text,
                                                p_scanned integer, p_inserted integer,
                                                p_updated integer, p_unchanged integer,
                                                p_conflicts integer, p_tasks integer,
                                                p_jobs_available boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE spool.import_runs u
       SET position = p_position, rows_done = u.rows_done + p_scanned,
           inserted = u.inserted + p_inserted, updated = u.updated + p_updated,
           unchanged = u.unchanged + p_unchanged, conflicts = u.conflicts + p_conflicts,
           tasks = u.tasks + p_tasks, updated_at = now()
     WHERE u.id = p_run;
    IF p_jobs_available THEN
        PERFORM spool.notify(true);
    END IF;
END
$$;
