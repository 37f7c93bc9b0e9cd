-- spool.prune() -> integer (jobs removed)
-- Deletes finished jobs older than their type's retention (jobs of types no longer
-- registered keep the default of 7 days), with their idempotency keys and dependency edges,
-- and events older than the events_retention setting. Works in batches of prune_batch rows
-- so that it never holds long locks; call it until it returns 0 to catch up.
CREATE OR REPLACE FUNCTION spool.prune() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    batch     integer := coalesce(spool.setting('prune_batch')::text::integer, 50000);
    ev_keep   interval := coalesce((spool.setting('events_retention')->>0)::interval, '7 days');
    min_keep  interval;
    gone      uuid[];
BEGIN
    SELECT least(coalesce(min(retention), '7 days'), '7 days') INTO min_keep FROM spool.job_types;

    WITH old AS (
        SELECT a.id
          FROM spool.job_archive a
          LEFT JOIN spool.job_types t ON t.name = a.type
         WHERE a.finished_at < now() - min_keep
           AND a.finished_at < now() - coalesce(t.retention, '7 days')
         ORDER BY a.finished_at
         LIMIT batch
    ), del AS (
        DELETE FROM spool.job_archive a USING old WHERE a.id = old.id RETURNING a.id
    )
    SELECT coalesce(array_agg(id), '{}') INTO gone FROM del;

    IF cardinality(gone) > 0 THEN
        DELETE FROM spool.idempotency_keys WHERE job_id = ANY(gone);
        DELETE FROM spool.job_dependencies WHERE job_id = ANY(gone) OR parent_id = ANY(gone);
    END IF;

    DELETE FROM spool.event_log e
     USING (SELECT id FROM spool.event_log ORDER BY id LIMIT batch) oldest
     WHERE e.id = oldest.id AND e.at < now() - ev_keep;
    RETURN cardinality(gone);
END
$$;
