-- spool.events_job_final(job_id uuid, tenant text) -> bigint
-- The id of the event that ended the job (its row with the job's final status: completed,
-- dead or cancelled), or NULL while the job has not ended, when it is unknown, or when it is
-- not the tenant's (tenant NULL = any). spoold answers a job stream that resumes at or after
-- this id with 204 No Content, which tells an EventSource client to stop reconnecting: the
-- stream already gave it the job's last event. Read-only; searched within the job's lifetime
-- like spool.events_replay.
CREATE OR REPLACE FUNCTION spool.events_job_final(job_id uuid, tenant text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT max(e.id)
      FROM spool.jobs j,
           spool.events_replay(0, 9223372036854775807, j.id, NULL, NULL, j.status,
                               events_job_final.tenant, 10000) e
     WHERE j.id = events_job_final.job_id
       AND j.status IN ('completed', 'dead', 'cancelled');
$$;
