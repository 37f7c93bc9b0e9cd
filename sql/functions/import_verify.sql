-- spool.import_verify(job_type text) -> TABLE(legacy_id text, job_id uuid, field text,
--                                            expected text, actual text)
-- Compares one batch of mapped legacy jobs, staged in pg_temp.import_jobs and
-- pg_temp.import_tasks (spool.import_prepare), with what Spool holds, and returns one row per
-- difference (none when the batch matches): field 'job' when the job is missing, 'checksum'
-- when the legacy row changed after it was imported (a later import would update it), else
-- the column that differs (type, status, payload, result, error, errors, attempts,
-- metadata, original_job_id, cancel_requested_at, cancel_reason, cost, run_at, created_at,
-- started_at, finished_at) or 'tasks' (count and a digest of every task field). Costs and
-- prices compare as numbers (1.5 = 1.500000). Records the batch's legacy ids in
-- pg_temp.import_seen, so that the caller can list imported jobs the source no longer has.
-- Reads only (besides the session's temporary tables).
CREATE OR REPLACE FUNCTION spool.import_verify(p_type text)
RETURNS TABLE (legacy_id text, job_id uuid, field text, expected text, actual text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO pg_temp.import_seen (legacy_id)
    SELECT s.legacy_id FROM pg_temp.import_jobs s
    ON CONFLICT DO NOTHING;

    RETURN QUERY
    WITH st AS (
        SELECT i.job_id, count(*) AS n,
               md5(string_agg(concat_ws('|', i.id, i.legacy_id, i.name, i.model, trim_scale(i.price),
                                        i.time_seconds, i.log, i.llm_interactions, i.created_at,
                                        i.updated_at), E'\n' ORDER BY i.id)) AS digest
          FROM pg_temp.import_tasks i
         GROUP BY i.job_id
    ), tt AS (
        SELECT x.job_id, count(*) AS n,
               md5(string_agg(concat_ws('|', x.id, x.legacy_id, x.name, x.model, trim_scale(x.price),
                                        x.time_seconds, x.log, x.llm_interactions, x.created_at,
                                        x.updated_at), E'\n' ORDER BY x.id)) AS digest
          FROM spool.job_tasks x
         WHERE x.job_id IN (SELECT s.id FROM pg_temp.import_jobs s)
         GROUP BY x.job_id
    )
    SELECT s.legacy_id, s.id, f.field, f.expected, f.actual
      FROM pg_temp.import_jobs s
      LEFT JOIN spool.jobs j ON j.id = s.id
      LEFT JOIN spool.import_rows r ON r.job_id = s.id
      LEFT JOIN st ON st.job_id = s.id
      LEFT JOIN tt ON tt.job_id = s.id
     CROSS JOIN LATERAL (VALUES
        ('job', 'present', CASE WHEN j.id IS NULL THEN 'missing' ELSE 'present' END),
        ('checksum', s.checksum, r.checksum),
        ('type', p_type, j.type),
        ('status', s.status, j.status),
        ('payload', s.payload::text, j.payload::text),
        ('result', s.result::text, j.result::text),
        ('error', s.error, j.error),
        ('errors', s.errors::text, j.errors::text),
        ('attempts', s.attempts::text, j.attempts::text),
        ('metadata', s.metadata::text, j.metadata::text),
        ('original_job_id', s.original_job_id::text, j.original_job_id::text),
        ('cancel_requested_at', s.cancel_requested_at::text, j.cancel_requested_at::text),
        ('cancel_reason', s.cancel_reason, j.cancel_reason),
        ('cost', trim_scale(s.cost)::text, trim_scale(j.cost)::text),
        ('run_at', s.run_at::text, j.run_at::text),
        ('created_at', s.created_at::text, j.created_at::text),
        ('started_at', s.started_at::text, j.started_at::text),
        ('finished_at', s.finished_at::text, j.finished_at::text),
        ('tasks', coalesce(st.n, 0) || ' ' || coalesce(st.digest, '-'),
                  coalesce(tt.n, 0) || ' ' || coalesce(tt.digest, '-'))
     ) AS f(field, expected, actual)
     WHERE (j.id IS NULL AND f.field = 'job')
        OR (j.id IS NOT NULL AND f.expected IS DISTINCT FROM f.actual)
     ORDER BY s.legacy_id, f.field;
END
$$;
