-- spool.import_lookup(ids uuid[]) -> TABLE(job_id uuid, checksum text, in_jobs boolean)
-- For import-prisma: which of a batch's job ids the target already knows. One row per id
-- that spool.import_rows records (checksum: what the import wrote) or that a job holds
-- (in_jobs); ids found in neither are absent. The CLI writes the absent ones straight into
-- the job tables with COPY, skips those whose checksum is unchanged, and leaves the rest to
-- spool.import_apply (updates and conflicts). Index probes only; reads, locks nothing.
CREATE OR REPLACE FUNCTION spool.import_lookup(p_ids uuid[])
RETURNS TABLE (job_id uuid, checksum text, in_jobs boolean)
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT r.job_id, r.checksum FROM spool.import_rows r WHERE r.job_id = ANY (p_ids)
    ), j AS (
        SELECT l.id FROM spool.job_live l WHERE l.id = ANY (p_ids)
        UNION ALL
        SELECT a.id FROM spool.job_archive a WHERE a.id = ANY (p_ids)
    )
    SELECT coalesce(r.job_id, j.id), r.checksum, j.id IS NOT NULL
      FROM r FULL JOIN j ON j.id = r.job_id
$$;
