-- spool.fail(job_id uuid, lease_token uuid, error text, retryable boolean) -> spool.jobs
-- Reports a failed attempt under the current lease (SP410 otherwise, nothing changed).
--   cancellation requested       -> cancelled
--   retryable and attempts left  -> failed, run_at = now + backoff (promote() makes it pending)
--   otherwise                    -> dead
-- The error is appended to the job's error history either way.
CREATE OR REPLACE FUNCTION spool.fail(job_id uuid, lease_token uuid, error text,
                                      retryable boolean DEFAULT true)
RETURNS spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    j   spool.job_live;
    r   spool.jobs;
    msg text := left(coalesce(error, 'failed'), 10000);
BEGIN
    SELECT * INTO j FROM spool.job_live l
     WHERE l.id = job_id AND l.lease_token = lease_token AND l.status = 'running'
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM spool.lease_error(job_id, lease_token);
    END IF;
    UPDATE spool.workers SET jobs_failed = jobs_failed + 1 WHERE id = j.worker_id;

    IF j.cancel_requested_at IS NOT NULL THEN
        PERFORM 1 FROM spool.move_to_archive(ARRAY[job_id], ARRAY[NULL::uuid],
                                                   ARRAY['cancelled'], ARRAY[NULL::jsonb],
                                                   ARRAY[j.cancel_reason]);
        SELECT * INTO r FROM spool.job_archive x WHERE x.id = job_id;
        RETURN r;
    ELSIF NOT coalesce(retryable, true) OR j.attempts >= j.max_attempts THEN
        PERFORM 1 FROM spool.move_to_archive(ARRAY[job_id], ARRAY[NULL::uuid],
                                                   ARRAY['dead'], ARRAY[NULL::jsonb], ARRAY[msg]);
        SELECT * INTO r FROM spool.job_archive x WHERE x.id = job_id;
        RETURN r;
    END IF;

    UPDATE spool.job_live l
       SET status = 'failed',
           run_at = now() + make_interval(secs => spool.backoff_seconds(l.type, l.attempts)),
           error = msg,
           errors = coalesce(l.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
               'attempt', l.attempts, 'error', msg, 'at', now(), 'worker_id', l.worker_id)),
           lease_token = NULL,
           lease_expires_at = NULL,
           deadline_at = NULL
     WHERE l.id = job_id
    RETURNING l.* INTO j;
    INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data)
    VALUES (j.id, 'failed', 'failed', j.type, j.queue, j.customer_id,
            jsonb_build_object('error', msg, 'attempt', j.attempts, 'retry_at', j.run_at));
    PERFORM spool.notify(false);
    SELECT * INTO r FROM spool.jobs WHERE id = j.id;
    RETURN r;
END
$$;
