-- spool.notify(jobs_available boolean) -> void
-- Coalesced notifications. A NOTIFY makes its transaction take a database-wide lock from
-- pre-commit until the commit is durable, so notifying commits serialise. Here at most one
-- transaction at a time notifies on each channel: it holds a transaction-level advisory lock,
-- and every transaction that finds the lock taken skips its NOTIFY. Listeners read new rows of
-- spool.event_log by id on each notification and also poll, so a skipped NOTIFY only delays.
--   channel spool_events: new rows in spool.event_log (spoold fans them out).
--   channel spool_jobs:   jobs became pending (workers wake and claim).
CREATE OR REPLACE FUNCTION spool.notify(p_jobs_available boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF pg_try_advisory_xact_lock(1397772111, 1) THEN
        PERFORM pg_notify('spool_events', '');
    END IF;
    IF p_jobs_available AND pg_try_advisory_xact_lock(1397772111, 2) THEN
        PERFORM pg_notify('spool_jobs', '');
    END IF;
END
$$;
