-- spool.events_replay(after_id bigint, upto_id bigint, job_id uuid, type text, queue text,
--                     status text, tenant text, max_rows integer)
--   -> TABLE(id bigint, kind text, status text, job_ids uuid[], msg text)
-- The events a reconnecting stream missed: rows with after_id < id <= upto_id matching the
-- stream's filters (NULL = any), in id order, at most max_rows (1..10000). job_id selects
-- the rows of one job (single or batch rows); tenant restricts to that customer_id. msg is
-- formatted exactly as by spool.events_after.
CREATE OR REPLACE FUNCTION spool.events_replay(after_id bigint, upto_id bigint, job_id uuid,
                                               type text, queue text, status text,
                                               tenant text, max_rows integer DEFAULT 500)
RETURNS TABLE (id bigint, kind text, status text, job_ids uuid[], msg text)
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.kind, e.status, coalesce(e.job_ids, ARRAY[e.job_id]),
           json_strip_nulls(json_build_object(
               'id', e.id, 'kind', e.kind, 'status', e.status, 'job_id', e.job_id,
               'job_ids', e.job_ids, 'type', e.type, 'queue', e.queue,
               'customer_id', e.customer_id, 'data', e.data, 'at', e.at))::text
      FROM spool.event_log e
     WHERE e.id > events_replay.after_id AND e.id <= events_replay.upto_id
       AND (events_replay.job_id IS NULL OR e.job_id = events_replay.job_id
            OR e.job_ids @> ARRAY[events_replay.job_id])
       AND (events_replay.type IS NULL OR e.type = events_replay.type)
       AND (events_replay.queue IS NULL OR e.queue = events_replay.queue)
       AND (events_replay.status IS NULL OR e.status = events_replay.status)
       AND (events_replay.tenant IS NULL OR e.customer_id = events_replay.tenant)
     ORDER BY e.id
     LIMIT least(greatest(events_replay.max_rows, 1), 10000);
$$;
