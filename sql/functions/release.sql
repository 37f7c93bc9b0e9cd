-- spool.release(job_id uuid, lease_token uuid) -> spool.jobs
-- A worker gives a running job back without it counting as an attempt (shutdown, drain):
-- running -> pending at once, attempts - 1. A job whose cancellation was requested becomes
-- cancelled instead. Only under the current lease (SP410 otherwise).
CREATE OR REPLACE FUNCTION spool.release(job_id uuid, lease_token uuid) RETURNS spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    j spool.job_live;
    r spool.jobs;
BEGIN
    SELECT * INTO j FROM spool.job_live l
     WHERE l.id = job_id AND l.lease_token = lease_token AND l.status = 'running'
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM spool.lease_error(job_id, lease_token);
    END IF;
    IF j.cancel_requested_at IS NOT NULL THEN
        PERFORM 1 FROM spool.move_to_archive(ARRAY[job_id], ARRAY[NULL::uuid],
                                                   ARRAY['cancelled'], ARRAY[NULL::jsonb],
                                                   ARRAY[j.cancel_reason]);
        SELECT * INTO r FROM spool.job_archive x WHERE x.id = job_id;
        RETURN r;
    END IF;
    UPDATE spool.job_live l
       SET status = 'pending', attempts = greatest(l.attempts - 1, 0), lease_token = NULL,
           lease_expires_at = NULL, deadline_at = NULL, progress = 0, progress_message = NULL
     WHERE l.id = job_id
    RETURNING l.* INTO j;
    INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data)
    VALUES (j.id, 'released', 'pending', j.type, j.queue, j.customer_id,
            jsonb_build_object('worker_id', j.worker_id));
    PERFORM spool.notify(true);
    SELECT * INTO r FROM spool.jobs WHERE id = j.id;
    RETURN r;
END
$$;
