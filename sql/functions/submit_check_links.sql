-- spool.submit_check_links(jobs jsonb) -> void
-- The slow-path checks of submit_many for batches that carry explicit ids or dependencies:
--   ids are UUIDs, unique in the batch and not used by any existing job;
--   every depends_on entry names a job of the batch or an existing job that is not dead or
--   cancelled; the dependency graph inside the batch has no cycle.
-- Then it locks the live parents (so none can finish between this check and the insert
-- without seeing its new child) and marks them has_dependents. Raises SP422 on any problem.
CREATE OR REPLACE FUNCTION spool.submit_check_links(jobs jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    uuid_re constant text := '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
    r       record;
    parents uuid[];
BEGIN
    SELECT e.ord - 1 AS i, e.j->>'id' AS id INTO r
      FROM jsonb_array_elements(jobs) WITH ORDINALITY e(j, ord)
     WHERE jsonb_typeof(e.j) = 'object' AND e.j ? 'id' AND jsonb_typeof(e.j->'id') <> 'null'
       AND (jsonb_typeof(e.j->'id') <> 'string' OR e.j->>'id' !~* uuid_re)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('jobs[%s]: id must be a UUID, got %s', r.i, r.id);
    END IF;

    SELECT e->>'id' AS id INTO r
      FROM jsonb_array_elements(jobs) e
     WHERE jsonb_typeof(e) = 'object' AND e->>'id' IS NOT NULL
     GROUP BY (e->>'id')::uuid, e->>'id' HAVING count(*) > 1
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('job id %s appears more than once in the batch', r.id);
    END IF;

    SELECT j.id INTO r
      FROM spool.jobs j
     WHERE j.id IN (SELECT (e->>'id')::uuid FROM jsonb_array_elements(jobs) e
                     WHERE jsonb_typeof(e) = 'object' AND e->>'id' IS NOT NULL)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('job id %s already exists', r.id);
    END IF;

    IF NOT jobs @? '$[*].depends_on[*]' THEN
        RETURN;
    END IF;

    SELECT e.ord - 1 AS i, p.value AS v INTO r
      FROM jsonb_array_elements(jobs) WITH ORDINALITY e(j, ord),
           jsonb_array_elements(CASE WHEN jsonb_typeof(e.j->'depends_on') = 'array'
                                     THEN e.j->'depends_on' ELSE '[]' END) p
     WHERE jsonb_typeof(p.value) <> 'string' OR p.value->>0 !~* uuid_re
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('jobs[%s]: depends_on entries must be job ids (UUIDs), got %s', r.i, r.v);
    END IF;

    IF to_regclass('pg_temp.spool_submit_edges') IS NULL THEN
        CREATE TEMP TABLE spool_submit_edges (i integer, child uuid, parent uuid) ON COMMIT DROP;
    END IF;
    TRUNCATE spool_submit_edges;
    INSERT INTO spool_submit_edges
    SELECT DISTINCT e.ord - 1, (e.j->>'id')::uuid, p::uuid
      FROM jsonb_array_elements(jobs) WITH ORDINALITY e(j, ord),
           jsonb_array_elements_text(CASE WHEN jsonb_typeof(e.j->'depends_on') = 'array'
                                          THEN e.j->'depends_on' ELSE '[]' END) p;

    -- Lock the live parents first: a parent that finishes from here on waits for us, and one
    -- that finished before is seen below in the archive.
    SELECT array_agg(DISTINCT parent) INTO parents FROM spool_submit_edges;
    PERFORM 1 FROM spool.job_live WHERE id = ANY(parents) ORDER BY id FOR UPDATE;

    -- Parents must be in the batch or exist; finished parents must have completed.
    SELECT x.i, x.parent, a.status INTO r
      FROM spool_submit_edges x
      LEFT JOIN spool.job_live l ON l.id = x.parent
      LEFT JOIN spool.job_archive a ON a.id = x.parent
     WHERE l.id IS NULL
       AND (a.id IS NULL OR a.status <> 'completed')
       AND x.parent NOT IN (SELECT (e->>'id')::uuid FROM jsonb_array_elements(jobs) e
                             WHERE jsonb_typeof(e) = 'object' AND e->>'id' IS NOT NULL)
     LIMIT 1;
    IF FOUND THEN
        IF r.status IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SP422',
                MESSAGE = format('jobs[%s]: unknown dependency %s', r.i, r.parent);
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('jobs[%s]: dependency %s is %s and will never complete', r.i, r.parent, r.status);
    END IF;

    -- A cycle can only run through jobs of this batch (existing jobs cannot depend on new ones).
    WITH RECURSIVE walk(start, node) AS (
        SELECT child, parent FROM spool_submit_edges WHERE child IS NOT NULL
        UNION
        SELECT w.start, x.parent FROM walk w JOIN spool_submit_edges x ON x.child = w.node
    )
    SELECT start INTO r FROM walk WHERE start = node LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('dependency cycle through job %s', r.start);
    END IF;

    UPDATE spool.job_live SET has_dependents = true
     WHERE id = ANY(parents) AND NOT has_dependents;
END
$$;
