-- spool.move_to_archive(ids uuid[], lease_tokens uuid[], statuses text[], results jsonb[],
--                       errors text[]) -> TABLE(id uuid, status text, worker_id text, lease_token uuid)
-- The one way a job reaches an end state (completed, dead, cancelled): the live row is deleted
-- and its finished form inserted into job_archive in a single statement, with one event per
-- job (completions share one log row per type/queue/customer/worker group). Arrays are parallel; a NULL lease token means "no fence" (the caller holds the row
-- lock, e.g. cancel or rescue); otherwise only a running job with that exact token moves —
-- a stale worker's call moves nothing. errors[i] is the final error (dead) or the reason
-- (cancelled). Returns the jobs that moved. Dependents are resolved by the trigger
-- job_archive_dependents (spool.on_archive_dependents) for jobs that have any.
CREATE OR REPLACE FUNCTION spool.move_to_archive(p_ids uuid[], p_tokens uuid[], p_statuses text[],
                                                 p_results jsonb[], p_errors text[])
RETURNS TABLE (id uuid, status text, worker_id text, lease_token uuid)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH u AS (
        SELECT * FROM unnest(p_ids, p_tokens, p_statuses, p_results, p_errors)
                      AS u(id, tok, st, res, err)
    ), d AS (
        DELETE FROM spool.job_live l
         USING u
         WHERE l.id = u.id
           AND (u.tok IS NULL OR (l.lease_token = u.tok AND l.status = 'running'))
        RETURNING l.*, u.st AS new_status, u.res AS new_result, u.err AS new_error
    ), a AS (
        INSERT INTO spool.job_archive AS a (
            id, seq, type, queue, status, priority, run_at, payload, result, error, errors,
            attempts, max_attempts, timeout_seconds, service_required, requirements,
            customer_id, tags, metadata, idempotency_key, original_job_id, progress,
            progress_message, worker_id, lease_token, lease_seconds, lease_expires_at,
            deadline_at, cancel_requested_at, cancel_reason, pending_parents, has_dependents,
            cost, created_at, started_at, finished_at)
        SELECT d.id, d.seq, d.type, d.queue, d.new_status, d.priority, d.run_at, d.payload,
               CASE WHEN d.new_status = 'completed' THEN d.new_result ELSE d.result END,
               CASE WHEN d.new_status = 'dead' THEN coalesce(d.new_error, d.error) ELSE d.error END,
               CASE WHEN d.new_status = 'dead' AND d.new_error IS NOT NULL THEN
                   coalesce(d.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                       'attempt', d.attempts, 'error', d.new_error, 'at', now(),
                       'worker_id', d.worker_id))
               ELSE d.errors END,
               d.attempts, d.max_attempts, d.timeout_seconds, d.service_required, d.requirements,
               d.customer_id, d.tags, d.metadata, d.idempotency_key, d.original_job_id,
               CASE WHEN d.new_status = 'completed' THEN 100 ELSE d.progress END,
               d.progress_message, d.worker_id, d.lease_token, d.lease_seconds, NULL,
               d.deadline_at, d.cancel_requested_at,
               CASE WHEN d.new_status = 'cancelled' THEN coalesce(d.new_error, d.cancel_reason)
                    ELSE d.cancel_reason END,
               d.pending_parents, d.has_dependents, d.cost, d.created_at, d.started_at, now()
          FROM d
        RETURNING a.id, a.status, a.worker_id, a.attempts, a.type, a.queue, a.customer_id,
                  a.error, a.cancel_reason, a.lease_token
    ), ev_done AS (
        INSERT INTO spool.event_log (job_ids, kind, status, type, queue, customer_id, data)
        SELECT array_agg(a.id), 'completed', 'completed', a.type, a.queue, a.customer_id,
               jsonb_build_object('worker_id', a.worker_id)
          FROM a
         WHERE a.status = 'completed'
         GROUP BY a.type, a.queue, a.customer_id, a.worker_id
    ), ev_end AS (
        INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data)
        SELECT a.id, a.status, a.status, a.type, a.queue, a.customer_id,
               CASE a.status
               WHEN 'dead' THEN jsonb_build_object('error', a.error, 'attempt', a.attempts)
               ELSE jsonb_build_object('reason', a.cancel_reason)
               END
          FROM a
         WHERE a.status <> 'completed'
    )
    SELECT a.id, a.status, a.worker_id, a.lease_token FROM a;

    IF FOUND THEN
        PERFORM spool.notify(false);
    END IF;
END
$$;
