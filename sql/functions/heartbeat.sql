-- spool.heartbeat(worker_id text, lease_tokens uuid[])
--   -> TABLE(job_id uuid, lease_token uuid, reason text)
-- Marks the worker alive and extends each lease it still holds by that job's lease_seconds.
-- Returns the jobs the worker must stop: those whose cancellation was requested (reason =
-- the cancel reason) and tokens that are no longer a current lease of this worker
-- (reason 'lease lost'; job_id is NULL when the token is unknown).
CREATE OR REPLACE FUNCTION spool.heartbeat(worker_id text, lease_tokens uuid[] DEFAULT '{}')
RETURNS TABLE (job_id uuid, lease_token uuid, reason text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
BEGIN
    UPDATE spool.workers w
       SET last_heartbeat_at = now(),
           status = CASE WHEN w.status = 'offline' THEN 'active' ELSE w.status END
     WHERE w.id = worker_id;
    RETURN QUERY
    WITH ext AS (
        UPDATE spool.job_live l
           SET lease_expires_at = now() + make_interval(secs => l.lease_seconds)
         WHERE l.lease_token = ANY(lease_tokens) AND l.status = 'running'
           AND l.worker_id = worker_id
        RETURNING l.id, l.lease_token, l.cancel_requested_at, l.cancel_reason
    )
    SELECT e.id, e.lease_token, coalesce(e.cancel_reason, 'cancellation requested')
      FROM ext e WHERE e.cancel_requested_at IS NOT NULL
    UNION ALL
    SELECT NULL::uuid, t.tok, 'lease lost'
      FROM unnest(lease_tokens) t(tok)
     WHERE t.tok IS NOT NULL AND t.tok NOT IN (SELECT e.lease_token FROM ext e);
END
$$;
