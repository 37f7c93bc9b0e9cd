-- spool.events_after(after_id bigint, max_rows integer)
--   -> TABLE(id bigint, kind text, status text, type text, queue text, customer_id text,
--            job_ids uuid[], msg text, snap_xmin xid8, snap_xmax xid8)
-- Event log rows with an id above after_id, in id order, at most max_rows (1..10000): what
-- spoold's event hub reads after each notification (and on its fallback poll). job_ids is the
-- row's job (one element) or its batch, for the hub's filters; msg is the row formatted by
-- spool.events_message, ready to send.
-- snap_xmin / snap_xmax are the bounds of the snapshot the rows were read with (the same on
-- every row; no row, no snapshot). Ids come from a sequence, so a smaller id can commit after
-- a larger one: a reader that finds a hole (a missing id below a present one) holds back what
-- follows it until the hole fills, or until a read's snap_xmin reaches a mark taken with
-- spool.events_hole_mark() after the hole was seen (every transaction that could still write
-- it has ended: it was rolled back, or the sequence jumped in a crash). See
-- server/srv_events.c.
-- No locks; read-only.
CREATE OR REPLACE FUNCTION spool.events_after(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS TABLE (id bigint, kind text, status text, type text, queue text, customer_id text,
               job_ids uuid[], msg text, snap_xmin xid8, snap_xmax xid8)
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.kind, e.status, e.type, e.queue, e.customer_id,
           coalesce(e.job_ids, ARRAY[e.job_id]), spool.events_message(e),
           pg_snapshot_xmin(s.snap), pg_snapshot_xmax(s.snap)
      FROM (SELECT pg_current_snapshot() AS snap) s,
           LATERAL (SELECT * FROM spool.event_log l
                     WHERE l.id > events_after.after_id
                     ORDER BY l.id
                     LIMIT least(greatest(events_after.max_rows, 1), 10000)) e
     ORDER BY e.id;
$$;
