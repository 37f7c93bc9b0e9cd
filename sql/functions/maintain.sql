-- spool.maintain() -> TABLE(promoted integer, rescued integer, pruned integer)
-- One maintenance pass: promote due jobs, rescue expired leases, prune past retention.
-- spoold runs it periodically on one leader; cron or psql can run it too.
CREATE OR REPLACE FUNCTION spool.maintain()
RETURNS TABLE (promoted integer, rescued integer, pruned integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    promoted := spool.promote();
    rescued := spool.rescue();
    pruned := spool.prune();
    RETURN NEXT;
END
$$;
