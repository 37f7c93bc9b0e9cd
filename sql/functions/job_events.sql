-- spool.job_events(job_id uuid) -> SETOF spool.events
-- The events of one job, oldest first. The log has no index on job ids (see event_log), so
-- this bounds the search by the job's lifetime (created_at .. finished_at, plus a second of
-- slack for commit order) and lets the BRIN index on event_log.at skip everything else.
CREATE OR REPLACE FUNCTION spool.job_events(job_id uuid) RETURNS SETOF spool.events
LANGUAGE sql STABLE AS $$
    SELECT e.id, job_events.job_id, e.kind, e.status, e.type, e.queue, e.customer_id, e.data,
           e.at, e.xid
      FROM spool.jobs j
      JOIN spool.event_log e
        ON e.at >= j.created_at - interval '1 second'
       AND e.at <= coalesce(j.finished_at, now()) + interval '1 second'
       AND (e.job_id = j.id OR j.id = ANY(e.job_ids))
     WHERE j.id = job_events.job_id
     ORDER BY e.id
$$;
