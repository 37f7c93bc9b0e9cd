-- spool.events_hole_mark() -> xid8
-- A transaction id assigned now: the call's own transaction takes the next one and ends with
-- the call. spoold's event hub takes such a mark while it waits on a hole in the event log
-- (a missing id below a present one): every transaction that could still write the missing
-- row already had its id, so it is below the mark, and once a read's snapshot xmin
-- (spool.events_after's snap_xmin) reaches the mark, all of them have ended and the hole
-- will never fill. A snapshot's own xmax cannot serve: it is one past the latest completed
-- transaction, so a transaction still running may be at or above it without holding xmin
-- back. Costs one transaction id per hole waited on (the hub's connection commits it
-- asynchronously).
CREATE OR REPLACE FUNCTION spool.events_hole_mark() RETURNS xid8
LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id();
$$;
