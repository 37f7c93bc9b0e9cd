-- spool.promote() -> integer (jobs made pending)
-- Scheduled jobs whose run_at has come, and failed jobs whose backoff has passed, become
-- pending (one 'promoted' event each). At most 50,000 per call; rows others hold are skipped.
CREATE OR REPLACE FUNCTION spool.promote() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
BEGIN
    WITH due AS (
        SELECT id FROM spool.job_live
         WHERE status IN ('scheduled', 'failed') AND run_at <= now()
         ORDER BY run_at
         LIMIT 50000
           FOR UPDATE SKIP LOCKED
    ), upd AS (
        UPDATE spool.job_live l SET status = 'pending'
          FROM due WHERE l.id = due.id
        RETURNING l.*
    ), ev AS (
        INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id)
        SELECT id, 'promoted', 'pending', type, queue, customer_id FROM upd
    )
    SELECT count(*) INTO n FROM upd;
    IF n > 0 THEN
        PERFORM spool.notify(true);
    END IF;
    RETURN n;
END
$$;
