-- spool.progress(job_id uuid, lease_token uuid, progress integer, message text) -> spool.jobs
-- Records progress (0..100) and an optional message on a running job under the current lease
-- (SP410 otherwise) and appends a 'progress' event. Touches no indexed column, so the update
-- is HOT when the page has room.
CREATE OR REPLACE FUNCTION spool.progress(job_id uuid, lease_token uuid, progress integer,
                                          message text DEFAULT NULL)
RETURNS spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    j spool.job_live;
    r spool.jobs;
BEGIN
    IF progress IS NULL OR progress NOT BETWEEN 0 AND 100 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'progress must be from 0 to 100';
    END IF;
    UPDATE spool.job_live l
       SET progress = progress, progress_message = left(message, 2000)
     WHERE l.id = job_id AND l.lease_token = lease_token AND l.status = 'running'
    RETURNING l.* INTO j;
    IF NOT FOUND THEN
        PERFORM spool.lease_error(job_id, lease_token);
    END IF;
    INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data)
    VALUES (j.id, 'progress', 'running', j.type, j.queue, j.customer_id,
            jsonb_build_object('progress', j.progress, 'message', j.progress_message));
    PERFORM spool.notify(false);
    SELECT * INTO r FROM spool.jobs WHERE id = j.id;
    RETURN r;
END
$$;
