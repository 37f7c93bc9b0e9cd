-- spool.lease_error(job_id uuid, lease_token uuid) -> never returns
-- Raises the error that explains why a call holding this lease was refused: SP404 when the
-- job does not exist, SP410 when the lease is not the job's current one (expired and
-- re-claimed, or the job already ended). Callers use it after a fenced update matched nothing.
CREATE OR REPLACE FUNCTION spool.lease_error(p_job_id uuid, p_token uuid) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    j spool.jobs;
BEGIN
    SELECT * INTO j FROM spool.jobs WHERE id = p_job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = format('job %s does not exist', p_job_id);
    ELSIF j.status = 'running' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP410',
            MESSAGE = format('lease %s is not current for job %s: the lease expired and the job was claimed again (attempt %s, worker %s); nothing was changed',
                             p_token, p_job_id, j.attempts, j.worker_id);
    ELSE
        RAISE EXCEPTION USING ERRCODE = 'SP410',
            MESSAGE = format('job %s is %s, not running under lease %s; nothing was changed',
                             p_job_id, j.status, p_token);
    END IF;
END
$$;
