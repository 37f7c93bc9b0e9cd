-- spool.import_apply(run_id bigint, job_type text, position text, scanned integer,
--                    dry_run boolean DEFAULT false)
--   -> TABLE(inserted integer, updated integer, unchanged integer, conflicts integer,
--            tasks integer, conflict_ids text[])
-- Applies one batch of import-prisma, staged by the caller in pg_temp.import_jobs and
-- pg_temp.import_tasks (spool.import_prepare), inside the caller's transaction. The CLI
-- stages only the jobs it cannot write straight into the job tables (those whose id
-- spool.import_lookup found: imported before, or held by another job); any batch works:
--   unchanged  the legacy row was imported before with the same checksum: nothing written;
--   conflict   the job's id is held by a job no import wrote, or Spool has changed the job
--              since it was imported (its status or attempts differ from what the import
--              wrote, e.g. a worker claimed it): left alone and reported, never overwritten;
--   updated    imported before and changed in the source: the job and its tasks are replaced;
--   inserted   new: pending jobs go to job_live (seq in run_at order, so claim order follows
--              the legacy FIFO), every other status to job_archive.
-- Jobs take job_type's priority, max_attempts and timeout (SP404 if it is not registered).
-- spool.import_rows records each written row (checksum, status, attempts as written) and
-- the run's position, counters and updated_at advance in import_runs row run_id (NULL: no
-- run row). dry_run classifies and counts only, writing nothing. Writes no events: the
-- legacy system had none, and the jobs' own timestamps carry their history.
CREATE OR REPLACE FUNCTION spool.import_apply(p_run bigint, p_type text, p_position text,
                                              p_scanned integer, p_dry_run boolean DEFAULT false)
RETURNS TABLE (inserted integer, updated integer, unchanged integer, conflicts integer,
               tasks integer, conflict_ids text[])
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    t         spool.job_types;
    n_same    integer;
    n_upd     integer := 0;
    n_live    integer := 0;
    n_arch    integer := 0;
    n_tasks   integer := 0;
    n_total   integer;
    c_ids     text[];
    k         integer;
BEGIN
    IF NOT p_dry_run THEN
        SELECT * INTO t FROM spool.job_types y WHERE y.name = p_type;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'SP404',
                MESSAGE = format('job type %s is not registered', p_type);
        END IF;
    END IF;

    -- Statistics for the staged rows, so that the joins below probe the indexes of the big
    -- tables for a few rows instead of scanning them.
    ANALYZE pg_temp.import_jobs;
    DELETE FROM pg_temp.import_jobs s
     USING spool.import_rows r
     WHERE r.job_id = s.id AND r.checksum = s.checksum;
    GET DIAGNOSTICS n_same = ROW_COUNT;

    -- A job id that Spool already holds: imported before (an update, unless Spool has run
    -- the job since) or never imported (a conflict). A first import finds none, cheaply.
    SELECT array_agg(s.legacy_id ORDER BY s.legacy_id) INTO c_ids
      FROM pg_temp.import_jobs s
      JOIN spool.jobs j ON j.id = s.id
      LEFT JOIN spool.import_rows r ON r.job_id = s.id
     WHERE r.job_id IS NULL OR j.status <> r.status OR j.attempts <> r.attempts;
    IF c_ids IS NOT NULL THEN
        DELETE FROM pg_temp.import_jobs s WHERE s.legacy_id = ANY (c_ids);
    END IF;

    SELECT count(*) INTO n_total FROM pg_temp.import_jobs;
    IF p_dry_run THEN
        SELECT count(*) INTO n_upd FROM pg_temp.import_jobs s JOIN spool.jobs j ON j.id = s.id;
        SELECT count(*) INTO n_tasks
          FROM pg_temp.import_tasks x WHERE x.job_id IN (SELECT s.id FROM pg_temp.import_jobs s);
        RETURN QUERY SELECT n_total - n_upd, n_upd, n_same, coalesce(cardinality(c_ids), 0), n_tasks,
                            coalesce(c_ids, '{}');
        RETURN;
    END IF;

    IF n_total > 0 THEN
        DELETE FROM spool.job_live l USING pg_temp.import_jobs s WHERE l.id = s.id;
        GET DIAGNOSTICS k = ROW_COUNT;
        n_upd := k;
        DELETE FROM spool.job_archive a USING pg_temp.import_jobs s WHERE a.id = s.id;
        GET DIAGNOSTICS k = ROW_COUNT;
        n_upd := n_upd + k;
        IF n_upd > 0 THEN
            DELETE FROM spool.job_tasks x USING pg_temp.import_jobs s WHERE x.job_id = s.id;
        END IF;

        INSERT INTO spool.job_live (id, seq, type, queue, status, priority, run_at, payload,
                                    result, error, errors, attempts, max_attempts,
                                    timeout_seconds, metadata, original_job_id,
                                    cancel_requested_at, cancel_reason, cost, created_at,
                                    started_at, finished_at)
        SELECT s.id, nextval('spool.job_seq'), p_type, 'default', s.status, t.priority,
               s.run_at, s.payload, s.result, s.error, s.errors, s.attempts, t.max_attempts,
               t.timeout_seconds, s.metadata, s.original_job_id, s.cancel_requested_at,
               s.cancel_reason, s.cost, s.created_at, s.started_at, s.finished_at
          FROM pg_temp.import_jobs s
         WHERE s.live
         ORDER BY s.run_at, s.legacy_id;
        GET DIAGNOSTICS n_live = ROW_COUNT;

        INSERT INTO spool.job_archive (id, seq, type, queue, status, priority, run_at, payload,
                                       result, error, errors, attempts, max_attempts,
                                       timeout_seconds, metadata, original_job_id, progress,
                                       cancel_requested_at, cancel_reason, cost, created_at,
                                       started_at, finished_at)
        SELECT s.id, nextval('spool.job_seq'), p_type, 'default', s.status, t.priority,
               s.run_at, s.payload, s.result, s.error, s.errors, s.attempts, t.max_attempts,
               t.timeout_seconds, s.metadata, s.original_job_id,
               s.progress,
               s.cancel_requested_at, s.cancel_reason, s.cost, s.created_at, s.started_at,
               s.finished_at
          FROM pg_temp.import_jobs s
         WHERE NOT s.live;
        GET DIAGNOSTICS n_arch = ROW_COUNT;

        -- Tasks of the staged jobs only (a job found unchanged took its tasks along). A
        -- task id already present belongs to a job this batch replaces, deleted above.
        IF n_same > 0 OR c_ids IS NOT NULL THEN
            INSERT INTO spool.job_tasks (id, job_id, legacy_id, name, model, price,
                                         time_seconds, log, llm_interactions, created_at,
                                         updated_at)
            SELECT i.id, i.job_id, i.legacy_id, i.name, i.model, i.price, i.time_seconds,
                   i.log, i.llm_interactions, i.created_at, i.updated_at
              FROM pg_temp.import_tasks i
             WHERE i.job_id IN (SELECT s.id FROM pg_temp.import_jobs s);
        ELSE
            INSERT INTO spool.job_tasks (id, job_id, legacy_id, name, model, price,
                                         time_seconds, log, llm_interactions, created_at,
                                         updated_at)
            SELECT i.id, i.job_id, i.legacy_id, i.name, i.model, i.price, i.time_seconds,
                   i.log, i.llm_interactions, i.created_at, i.updated_at
              FROM pg_temp.import_tasks i;
        END IF;
        GET DIAGNOSTICS n_tasks = ROW_COUNT;

        INSERT INTO spool.import_rows AS r (job_id, legacy_id, checksum, legacy_status, status,
                                            attempts, run_id)
        SELECT s.id, s.legacy_id, s.checksum, s.legacy_status, s.status, s.attempts,
               coalesce(p_run, 0)
          FROM pg_temp.import_jobs s
        ON CONFLICT (job_id) DO UPDATE
           SET legacy_id = excluded.legacy_id, checksum = excluded.checksum,
               legacy_status = excluded.legacy_status, status = excluded.status,
               attempts = excluded.attempts, run_id = excluded.run_id, imported_at = now();

        IF n_live > 0 THEN
            PERFORM spool.notify(true);
        END IF;
    END IF;

    IF p_run IS NOT NULL THEN
        UPDATE spool.import_runs u
           SET position = p_position, rows_done = u.rows_done + p_scanned,
               inserted = u.inserted + (n_live + n_arch - n_upd), updated = u.updated + n_upd,
               unchanged = u.unchanged + n_same, conflicts = u.conflicts + coalesce(cardinality(c_ids), 0),
               tasks = u.tasks + n_tasks, updated_at = now()
         WHERE u.id = p_run;
    END IF;

    RETURN QUERY SELECT n_live + n_arch - n_upd, n_upd, n_same, coalesce(cardinality(c_ids), 0),
                        n_tasks, coalesce(c_ids, '{}');
END
$$;
