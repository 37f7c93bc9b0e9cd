-- spool.complete(job_id uuid, lease_token uuid, result jsonb) -> spool.jobs
-- Ends a running job as completed with its result, only under the current lease (SP410
-- otherwise, nothing changed). Dependents whose last parent this was become pending.
CREATE OR REPLACE FUNCTION spool.complete(job_id uuid, lease_token uuid, result jsonb DEFAULT NULL)
RETURNS spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    r spool.jobs;
BEGIN
    IF job_id IS NULL OR lease_token IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'job_id and lease_token are required';
    END IF;
    PERFORM 1 FROM spool.move_to_archive(ARRAY[job_id], ARRAY[lease_token],
                                         ARRAY['completed'], ARRAY[result], ARRAY[NULL::text]);
    IF NOT FOUND THEN
        PERFORM spool.lease_error(job_id, lease_token);
    END IF;
    SELECT * INTO r FROM spool.job_archive a WHERE a.id = job_id;
    UPDATE spool.workers SET jobs_completed = jobs_completed + 1 WHERE id = r.worker_id;
    RETURN r;
END
$$;
