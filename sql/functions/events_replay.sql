-- spool.events_replay(after_id bigint, upto_id bigint, job_id uuid, type text, queue text,
--                     status text, tenant text, max_rows integer)
--   -> TABLE(id bigint, kind text, status text, job_ids uuid[], msg text)
-- The events a stream's client missed: rows with after_id < id <= upto_id that pass the
-- stream's filters (NULL = any), in id order, at most max_rows (1..10000). msg is formatted
-- by spool.events_message, exactly as the live events are.
--   job_id: the rows of that job (its own rows and the batch rows that list it). The log has
--           no index on job ids, so the search is bounded by the job's lifetime through the
--           BRIN on event_log.at, as spool.job_events does; an unknown job has no rows.
--   tenant: only rows whose customer_id is tenant.
-- Without job_id the search walks the primary key from after_id; a caller that wants a
-- bounded cost per call bounds upto_id - after_id (spoold pages through id spans).
-- No locks; read-only.
CREATE OR REPLACE FUNCTION spool.events_replay(after_id bigint, upto_id bigint, job_id uuid,
                                               type text, queue text, status text,
                                               tenant text, max_rows integer DEFAULT 500)
RETURNS TABLE (id bigint, kind text, status text, job_ids uuid[], msg text)
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.kind, e.status, coalesce(e.job_ids, ARRAY[e.job_id]), spool.events_message(e)
      FROM spool.event_log e
     WHERE events_replay.job_id IS NULL
       AND e.id > events_replay.after_id AND e.id <= events_replay.upto_id
       AND (events_replay.type IS NULL OR e.type = events_replay.type)
       AND (events_replay.queue IS NULL OR e.queue = events_replay.queue)
       AND (events_replay.status IS NULL OR e.status = events_replay.status)
       AND (events_replay.tenant IS NULL OR e.customer_id = events_replay.tenant)
    UNION ALL
    -- A second of slack on each side of the job's lifetime: a row's at is the start of the
    -- transaction that wrote it.
    SELECT e.id, e.kind, e.status, coalesce(e.job_ids, ARRAY[e.job_id]), spool.events_message(e)
      FROM spool.jobs j
      JOIN spool.event_log e
        ON e.at >= j.created_at - interval '1 second'
       AND e.at <= coalesce(j.finished_at, now()) + interval '1 second'
       AND (e.job_id = j.id OR e.job_ids @> ARRAY[j.id])
     WHERE j.id = events_replay.job_id
       AND e.id > events_replay.after_id AND e.id <= events_replay.upto_id
       AND (events_replay.type IS NULL OR e.type = events_replay.type)
       AND (events_replay.queue IS NULL OR e.queue = events_replay.queue)
       AND (events_replay.status IS NULL OR e.status = events_replay.status)
       AND (events_replay.tenant IS NULL OR e.customer_id = events_replay.tenant)
     ORDER BY 1
     LIMIT least(greatest(events_replay.max_rows, 1), 10000);
$$;
