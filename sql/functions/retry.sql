-- spool.retry(job_id uuid) -> spool.jobs (the job that will run again)
--   failed (waiting for its backoff) -> pending now, same job;
--   dead or cancelled -> a new pending job with the same type, payload and settings,
--     attempts 0, original_job_id = the root of the chain (lineage kept), event 'retried';
--   completed, or live in another state -> SP409; unknown -> SP404.
CREATE OR REPLACE FUNCTION spool.retry(job_id uuid) RETURNS spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    j  spool.job_live;
    a  spool.job_archive;
    r  spool.jobs;
BEGIN
    SELECT * INTO j FROM spool.job_live l WHERE l.id = job_id FOR UPDATE;
    IF FOUND THEN
        IF j.status <> 'failed' THEN
            RAISE EXCEPTION USING ERRCODE = 'SP409',
                MESSAGE = format('job %s is %s; only dead, failed or cancelled jobs can be retried',
                                 job_id, j.status);
        END IF;
        UPDATE spool.job_live l SET status = 'pending', run_at = now() WHERE l.id = job_id
        RETURNING l.* INTO j;
        INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id)
        VALUES (j.id, 'retried', 'pending', j.type, j.queue, j.customer_id);
        PERFORM spool.notify(true);
        SELECT * INTO r FROM spool.jobs WHERE id = job_id;
        RETURN r;
    END IF;

    SELECT * INTO a FROM spool.job_archive x WHERE x.id = job_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404', MESSAGE = format('job %s does not exist', job_id);
    ELSIF a.status NOT IN ('dead', 'cancelled') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP409',
            MESSAGE = format('job %s is %s; only dead, failed or cancelled jobs can be retried',
                             job_id, a.status);
    END IF;

    INSERT INTO spool.job_live (id, seq, type, queue, status, priority, run_at, payload,
                                max_attempts, timeout_seconds, service_required, requirements,
                                customer_id, tags, metadata, original_job_id, cost)
    VALUES (spool.uuid_v7(), nextval('spool.job_seq'), a.type, a.queue, 'pending', a.priority,
            now(), a.payload, a.max_attempts, a.timeout_seconds, a.service_required,
            a.requirements, a.customer_id, a.tags, a.metadata,
            coalesce(a.original_job_id, a.id), NULL)
    RETURNING * INTO j;
    INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data)
    VALUES (j.id, 'retried', 'pending', j.type, j.queue, j.customer_id,
            jsonb_build_object('retry_of', a.id, 'original_job_id', j.original_job_id));
    PERFORM spool.notify(true);
    SELECT * INTO r FROM spool.jobs WHERE id = j.id;
    RETURN r;
END
$$;
