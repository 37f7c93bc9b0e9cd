-- spool.on_archive_dependents() -> trigger
-- AFTER INSERT on job_archive, only for rows with has_dependents: passes the finished parent
-- to spool.resolve_dependents (completed -> unblock children; dead/cancelled -> cancel them).
CREATE OR REPLACE FUNCTION spool.on_archive_dependents() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM spool.resolve_dependents(ARRAY[NEW.id], ARRAY[NEW.status]);
    RETURN NULL;
END
$$;
