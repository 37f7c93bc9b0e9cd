-- spool.move_to_archive(ids uuid[], lease_tokens uuid[], statuses text[], results jsonb[],
--                       errors text[]) -> SETOF spool.jobs (the rows now finished)
-- The one way a job reaches an end state (completed, dead, cancelled): the live row is deleted
-- and its finished form inserted into job_archive in a single statement, with one event per
-- job. Arrays are parallel; a NULL lease token means "no fence" (the caller holds the row
-- lock, e.g. cancel or rescue); otherwise only a running job with that exact token moves —
-- a stale worker's call moves nothing. errors[i] is the final error (dead) or the reason
-- (cancelled). Jobs with dependents then unblock or cancel them (spool.resolve_dependents).
CREATE OR REPLACE FUNCTION spool.move_to_archive(p_ids uuid[], p_tokens uuid[], p_statuses text[],
                                                 p_results jsonb[], p_errors text[])
RETURNS SETOF spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    moved spool.job_archive[];
BEGIN
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
        INSERT INTO spool.job_archive (
            id, seq, type, queue, status, priority, run_at, payload, result, error, errors,
            attempts, max_attempts, timeout_seconds, service_required, requirements,
            customer_id, tags, metadata, idempotency_key, original_job_id, progress,
            progress_message, worker_id, lease_token, lease_seconds, lease_expires_at,
            deadline_at, cancel_requested_at, cancel_reason, pending_parents, has_dependents,
            cost, created_at, started_at, finished_at)
        SELECT id, seq, type, queue, new_status, priority, run_at, payload,
               CASE WHEN new_status = 'completed' THEN new_result ELSE result END,
               CASE WHEN new_status = 'dead' THEN coalesce(new_error, error) ELSE error END,
               CASE WHEN new_status = 'dead' AND new_error IS NOT NULL THEN
                   coalesce(errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
                       'attempt', attempts, 'error', new_error, 'at', now(), 'worker_id', worker_id))
               ELSE errors END,
               attempts, max_attempts, timeout_seconds, service_required, requirements,
               customer_id, tags, metadata, idempotency_key, original_job_id,
               CASE WHEN new_status = 'completed' THEN 100 ELSE progress END,
               progress_message, worker_id, lease_token, lease_seconds, NULL,
               deadline_at, cancel_requested_at,
               CASE WHEN new_status = 'cancelled' THEN coalesce(new_error, cancel_reason)
                    ELSE cancel_reason END,
               pending_parents, has_dependents, cost, created_at, started_at, now()
          FROM d
        RETURNING *
    ), ev AS (
        INSERT INTO spool.events (job_id, kind, status, type, queue, customer_id, data)
        SELECT id, status, status, type, queue, customer_id,
               CASE status
               WHEN 'completed' THEN jsonb_build_object('worker_id', worker_id, 'attempt', attempts)
               WHEN 'dead' THEN jsonb_build_object('error', error, 'attempt', attempts)
               ELSE jsonb_build_object('reason', cancel_reason)
               END
          FROM a
    )
    SELECT array_agg(a) INTO moved FROM a;

    IF moved IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM unnest(moved);

    IF EXISTS (SELECT 1 FROM unnest(moved) m WHERE m.has_dependents) THEN
        PERFORM spool.resolve_dependents(
            ARRAY(SELECT m.id FROM unnest(moved) m WHERE m.has_dependents),
            ARRAY(SELECT m.status FROM unnest(moved) m WHERE m.has_dependents));
    END IF;
    PERFORM spool.notify(false);
END
$$;
