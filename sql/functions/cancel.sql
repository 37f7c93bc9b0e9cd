-- spool.cancel(job_id uuid, reason text) -> spool.jobs
--   blocked, scheduled, pending, failed -> cancelled at once (dependents are cancelled too);
--   running -> cancellation requested: heartbeat() tells the worker, and the job becomes
--              cancelled when the worker fails or releases it (or its lease expires);
--   completed, dead, cancelled -> SP409; unknown -> SP404.
CREATE OR REPLACE FUNCTION spool.cancel(job_id uuid, reason text DEFAULT NULL) RETURNS spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    j   spool.job_live;
    r   spool.jobs;
    why text := left(coalesce(reason, 'cancelled by request'), 2000);
BEGIN
    SELECT * INTO j FROM spool.job_live l WHERE l.id = job_id FOR UPDATE;
    IF NOT FOUND THEN
        SELECT * INTO r FROM spool.job_archive a WHERE a.id = job_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = format('job %s does not exist', job_id);
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'SP409',
            MESSAGE = format('job %s is already %s and cannot be cancelled', job_id, r.status);
    END IF;
    IF j.status = 'running' THEN
        IF j.cancel_requested_at IS NULL THEN
            UPDATE spool.job_live l SET cancel_requested_at = now(), cancel_reason = why
             WHERE l.id = job_id RETURNING l.* INTO j;
            INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data)
            VALUES (j.id, 'cancel_requested', 'running', j.type, j.queue, j.customer_id,
                    jsonb_build_object('reason', why, 'worker_id', j.worker_id));
            PERFORM spool.notify(false);
        END IF;
        SELECT * INTO r FROM spool.jobs WHERE id = job_id;
        RETURN r;
    END IF;
    PERFORM 1 FROM spool.move_to_archive(ARRAY[job_id], ARRAY[NULL::uuid],
                                               ARRAY['cancelled'], ARRAY[NULL::jsonb], ARRAY[why]);
    SELECT * INTO r FROM spool.job_archive x WHERE x.id = job_id;
    RETURN r;
END
$$;
