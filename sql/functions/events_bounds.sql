-- spool.events_bounds() -> TABLE(oldest bigint, newest bigint)
-- The smallest and largest event ids still in spool.event_log (both NULL when it is empty),
-- read from the ends of its primary key. spoold uses newest to place its event hub when it
-- starts, and oldest to tell a client resuming with a Last-Event-ID older than the log (its
-- events were pruned) where its stream really starts.
CREATE OR REPLACE FUNCTION spool.events_bounds()
RETURNS TABLE (oldest bigint, newest bigint)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT l.id FROM spool.event_log l ORDER BY l.id LIMIT 1),
           (SELECT l.id FROM spool.event_log l ORDER BY l.id DESC LIMIT 1);
$$;
