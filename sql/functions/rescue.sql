-- spool.rescue() -> integer (jobs rescued)
-- Running jobs whose lease expired (the worker stopped heartbeating) or whose timeout passed:
--   cancellation requested -> cancelled;
--   attempts left          -> failed with backoff (the attempt counts; error recorded);
--   none left              -> dead.
-- Rows other sessions hold are skipped; at most 10,000 per call.
CREATE OR REPLACE FUNCTION spool.rescue() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n_retry integer := 0;
    n_end   integer := 0;
    ends    record;
    expired spool.job_live[];
BEGIN
    SELECT array_agg(x) INTO expired
      FROM (SELECT * FROM spool.job_live
             WHERE status = 'running' AND least(lease_expires_at, deadline_at) < now()
             ORDER BY least(lease_expires_at, deadline_at)
             LIMIT 10000
               FOR UPDATE SKIP LOCKED) x;
    IF expired IS NULL THEN
        RETURN 0;
    END IF;

    WITH why AS (
        SELECT id, CASE WHEN deadline_at <= lease_expires_at
                        THEN format('timed out after %s seconds', timeout_seconds)
                        ELSE format('lease expired: worker %s stopped heartbeating', worker_id)
                   END AS msg
          FROM unnest(expired)
         WHERE cancel_requested_at IS NULL AND attempts < max_attempts
    ), upd AS (
        UPDATE spool.job_live l
           SET status = 'failed',
               run_at = now() + make_interval(secs => spool.backoff_seconds(l.type, l.attempts)),
               error = why.msg,
               errors = coalesce(l.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                   'attempt', l.attempts, 'error', why.msg, 'at', now(), 'worker_id', l.worker_id)),
               lease_token = NULL, lease_expires_at = NULL, deadline_at = NULL
          FROM why
         WHERE l.id = why.id
        RETURNING l.*
    ), ev AS (
        INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data)
        SELECT id, 'failed', 'failed', type, queue, customer_id,
               jsonb_build_object('error', error, 'attempt', attempts, 'retry_at', run_at,
                                  'rescued', true)
          FROM upd
    )
    SELECT count(*) INTO n_retry FROM upd;

    SELECT array_agg(id) AS ids,
           array_agg(CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'dead' END) AS st,
           array_agg(CASE WHEN cancel_requested_at IS NOT NULL THEN cancel_reason
                          WHEN deadline_at <= lease_expires_at
                          THEN format('timed out after %s seconds', timeout_seconds)
                          ELSE format('lease expired: worker %s stopped heartbeating', worker_id)
                     END) AS msg
      INTO ends
      FROM unnest(expired)
     WHERE cancel_requested_at IS NOT NULL OR attempts >= max_attempts;
    IF ends.ids IS NOT NULL THEN
        SELECT count(*) INTO n_end
          FROM spool.move_to_archive(ends.ids, array_fill(NULL::uuid, ARRAY[cardinality(ends.ids)]),
                                     ends.st, array_fill(NULL::jsonb, ARRAY[cardinality(ends.ids)]),
                                     ends.msg);
    END IF;
    IF n_retry > 0 THEN
        PERFORM spool.notify(false);
    END IF;
    RETURN n_retry + n_end;
END
$$;
