-- spool.resolve_dependents(parent_ids uuid[], outcomes text[]) -> integer
-- Called when parents finish. A completed parent takes one off each blocked child's count of
-- unfinished parents; a child whose count reaches zero becomes pending (or scheduled when its
-- run_at is ahead). A dead or cancelled parent cancels its blocked children with a reason,
-- which cascades to their own children through spool.move_to_archive. Row locks on the
-- children serialise parents finishing at once. Returns the number of children changed.
CREATE OR REPLACE FUNCTION spool.resolve_dependents(p_parents uuid[], p_outcomes text[])
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n_unblocked integer := 0;
    doomed      record;
    kill_ids    uuid[];
    kill_why    text[];
BEGIN
    WITH done AS (
        SELECT d.job_id, count(*)::integer AS n
          FROM unnest(p_parents, p_outcomes) AS p(id, outcome)
          JOIN spool.job_dependencies d ON d.parent_id = p.id
         WHERE p.outcome = 'completed'
         GROUP BY d.job_id
    ), upd AS (
        UPDATE spool.job_live l
           SET pending_parents = greatest(l.pending_parents - done.n, 0),
               status = CASE WHEN l.pending_parents - done.n > 0 THEN l.status
                             WHEN l.run_at > now() THEN 'scheduled'
                             ELSE 'pending' END
          FROM done
         WHERE l.id = done.job_id AND l.status = 'blocked'
        RETURNING l.*
    ), ev AS (
        INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id)
        SELECT id, 'unblocked', status, type, queue, customer_id FROM upd WHERE status <> 'blocked'
    )
    SELECT count(*) FILTER (WHERE status <> 'blocked') INTO n_unblocked FROM upd;

    SELECT array_agg(x.job_id), array_agg(x.why) INTO kill_ids, kill_why
      FROM (SELECT DISTINCT ON (d.job_id) d.job_id,
                   format('dependency %s ended %s', p.id, p.outcome) AS why
              FROM unnest(p_parents, p_outcomes) AS p(id, outcome)
              JOIN spool.job_dependencies d ON d.parent_id = p.id
              JOIN spool.job_live l ON l.id = d.job_id AND l.status = 'blocked'
             WHERE p.outcome IN ('dead', 'cancelled')
             ORDER BY d.job_id) x;
    IF kill_ids IS NOT NULL THEN
        PERFORM 1 FROM spool.job_live WHERE id = ANY(kill_ids) ORDER BY id FOR UPDATE;
        FOR doomed IN SELECT * FROM spool.move_to_archive(
                kill_ids, array_fill(NULL::uuid, ARRAY[cardinality(kill_ids)]),
                array_fill('cancelled'::text, ARRAY[cardinality(kill_ids)]),
                array_fill(NULL::jsonb, ARRAY[cardinality(kill_ids)]), kill_why) LOOP
            n_unblocked := n_unblocked + 1;
        END LOOP;
    END IF;
    IF n_unblocked > 0 THEN
        PERFORM spool.notify(true);
    END IF;
    RETURN n_unblocked;
END
$$;
