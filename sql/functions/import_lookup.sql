-- spool.import_lookup(ids uuid[], lo uuid DEFAULT NULL, hi uuid DEFAULT NULL)
--   -> TABLE(job_id uuid, checksum text, in_jobs boolean)
-- For import-prisma: which of a batch's job ids the target already knows. One row per id
-- that spool.import_rows records (checksum: what the import wrote) or that a job holds
-- (in_jobs); ids found in neither are absent. With lo .. hi, rows of other ids within that
-- range may come too (the caller looks its ids up in the answer). The CLI writes the absent
-- ones straight into the job tables with COPY, skips those whose checksum is unchanged,
-- and leaves the rest to spool.import_apply (updates and conflicts). Reads, locks nothing.
--
-- How it looks: a batch's ids are mostly consecutive in the id order (the CLI reads the
-- source in id order, and a legacy UUID is kept as the job id), so lo .. hi, when given,
-- names the range that holds them: each table is read with one range scan over it instead
-- of one index descent per id (a descent costs what a few dozen rows of a range scan
-- cost). A table's range is used only while it holds few rows (fewer than 4 per id plus
-- 64): a target whose own jobs fill that part of the id space, or a sparse batch (a --since
-- run), falls back to one descent per id for that table. Ids outside lo .. hi (derived
-- from non-UUID legacy ids) are always looked up one by one.
--
-- Replaces import_lookup(uuid[]), which took no range.
DROP FUNCTION IF EXISTS spool.import_lookup(uuid[]);
CREATE OR REPLACE FUNCTION spool.import_lookup(p_ids uuid[], p_lo uuid DEFAULT NULL,
                                               p_hi uuid DEFAULT NULL)
RETURNS TABLE (job_id uuid, checksum text, in_jobs boolean)
LANGUAGE sql STABLE AS $$
    -- The range scans stop at the cap (reaching it means "too many rows, fall back"). Their
    -- rows are not filtered by the batch's ids: a filter by an array parameter compares each
    -- row with every id (only a constant array is hashed), and the ids must not become
    -- index conditions of the range scan (one descent per id again). A plain SQL function:
    -- plpgsql would plan each call with the whole id array as a constant.
    WITH lim AS MATERIALIZED (
        SELECT 4 * coalesce(cardinality(p_ids), 0) + 64 AS cap,
               CASE WHEN p_lo IS NULL OR p_hi IS NULL THEN p_ids
                    ELSE ARRAY(SELECT u FROM unnest(p_ids) u WHERE u < p_lo OR u > p_hi)
               END AS outside
    ), ir AS MATERIALIZED (
        SELECT r.job_id, r.checksum FROM spool.import_rows r
         WHERE r.job_id >= p_lo AND r.job_id <= p_hi LIMIT (SELECT cap FROM lim)
    ), jl AS MATERIALIZED (
        SELECT l.id FROM spool.job_live l
         WHERE l.id >= p_lo AND l.id <= p_hi LIMIT (SELECT cap FROM lim)
    ), ja AS MATERIALIZED (
        SELECT a.id FROM spool.job_archive a
         WHERE a.id >= p_lo AND a.id <= p_hi LIMIT (SELECT cap FROM lim)
    ), ok AS MATERIALIZED (
        SELECT (SELECT count(*) FROM ir) < lim.cap AS ir, (SELECT count(*) FROM jl) < lim.cap AS jl,
               (SELECT count(*) FROM ja) < lim.cap AS ja,
               lim.outside
          FROM lim
    ), r AS (
        SELECT ir.job_id, ir.checksum FROM ir
         WHERE (SELECT ok.ir FROM ok)
        UNION ALL
        SELECT r.job_id, r.checksum FROM spool.import_rows r
         WHERE r.job_id = ANY ((SELECT CASE WHEN ok.ir THEN ok.outside ELSE p_ids END FROM ok)::uuid[])
    ), j AS (
        SELECT jl.id FROM jl WHERE (SELECT ok.jl FROM ok)
        UNION ALL
        SELECT l.id FROM spool.job_live l
         WHERE l.id = ANY ((SELECT CASE WHEN ok.jl THEN ok.outside ELSE p_ids END FROM ok)::uuid[])
        UNION ALL
        SELECT ja.id FROM ja WHERE (SELECT ok.ja FROM ok)
        UNION ALL
        SELECT a.id FROM spool.job_archive a
         WHERE a.id = ANY ((SELECT CASE WHEN ok.ja THEN ok.outside ELSE p_ids END FROM ok)::uuid[])
    )
    SELECT coalesce(r.job_id, j.id), r.checksum, j.id IS NOT NULL
      FROM r FULL JOIN j ON j.id = r.job_id
$$;
