-- spool.events_after(after_id bigint, max_rows integer)
--   -> TABLE(id bigint, kind text, status text, type text, queue text, customer_id text,
--            job_ids uuid[], msg text, snap_xmin xid8, snap_xmax xid8)
-- Event log rows with an id above after_id, in id order, at most max_rows (1..10000), for the
-- live streams of spoold. job_ids is the row's job (one element) or its batch; msg is the
-- row as one line of JSON, ready to send. snap_xmin / snap_xmax are the bounds of this
-- read's snapshot (the same on every row): ids come from a sequence, so a smaller id can
-- commit after a larger one; a reader that finds a hole holds back what follows it until
-- the hole fills or every transaction that could fill it has ended (see server/srv_events.c).
CREATE OR REPLACE FUNCTION spool.events_after(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS TABLE (id bigint, kind text, status text, type text, queue text, customer_id text,
               job_ids uuid[], msg text, snap_xmin xid8, snap_xmax xid8)
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.kind, e.status, e.type, e.queue, e.customer_id,
           coalesce(e.job_ids, ARRAY[e.job_id]),
           json_strip_nulls(json_build_object(
               'id', e.id, 'kind', e.kind, 'status', e.status, 'job_id', e.job_id,
               'job_ids', e.job_ids, 'type', e.type, 'queue', e.queue,
               'customer_id', e.customer_id, 'data', e.data, 'at', e.at))::text,
           pg_snapshot_xmin(s.snap), pg_snapshot_xmax(s.snap)
      FROM (SELECT pg_current_snapshot() AS snap) s,
           LATERAL (SELECT * FROM spool.event_log l
                     WHERE l.id > events_after.after_id
                     ORDER BY l.id
                     LIMIT least(greatest(events_after.max_rows, 1), 10000)) e
     ORDER BY e.id;
$$;
