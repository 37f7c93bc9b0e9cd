-- spool.on_archive_delete_tasks() -> trigger
-- AFTER DELETE on job_archive, for each row whose metadata has "legacy" (imported jobs, the
-- only ones with rows in spool.job_tasks): the job's tasks leave with it, so prune() never
-- leaves orphaned tasks behind.
CREATE OR REPLACE FUNCTION spool.on_archive_delete_tasks() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DELETE FROM spool.job_tasks t WHERE t.job_id = OLD.id;
    RETURN NULL;
END
$$;
