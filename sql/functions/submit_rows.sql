-- spool.submit_rows(jobs jsonb, n integer, has_deps boolean, types jsonb) -> the parsed jobs
-- Parses a JSON array of job objects with typed casts in one pass (jsonb_to_recordset) and
-- applies the type's defaults. Range and schema rules raise SP422 naming the job's index, so
-- the caller's insert writes nothing; a cast that fails raises a data exception, which
-- submit_many turns into a precise message with spool.submit_validate.
-- Rows come in array order (ord, from 1) with the job's own "id" when it has one; the caller
-- draws seq (and so the id of a job without one) in that order. types maps each registered
-- type name to its row (as JSON), so that no join can reorder the rows.
-- A single STABLE SQL query, so the planner inlines it into submit_many's insert: the rows
-- stream from the parser into the table instead of being stored once more in between.
-- Internal to submit_many: it takes no locks and writes nothing.
-- The return type changed (no id/seq generation here any more); the old form is dropped
-- first so that an upgraded database gets this one.
DROP FUNCTION IF EXISTS spool.submit_rows(jsonb, integer, boolean, jsonb);
CREATE OR REPLACE FUNCTION spool.submit_rows(jobs jsonb, n integer, has_deps boolean, types jsonb)
RETURNS TABLE (ord bigint, id uuid, type text, queue text, status text, priority smallint,
               run_at timestamptz, payload jsonb, max_attempts integer,
               timeout_seconds integer, service_required text, requirements jsonb,
               customer_id text, tags text[], metadata jsonb, idempotency_key text,
               pending_parents integer, depends_on uuid[])
LANGUAGE sql STABLE AS $$
    SELECT r.ord,
           r.id,
           r.t_name,
           coalesce(r.queue, 'default'),
           CASE WHEN parents > 0 THEN 'blocked'
                WHEN at > now() THEN 'scheduled'
                ELSE 'pending' END,
           coalesce(r.priority, (r.ty->>'priority')::integer)::smallint,
           at,
           coalesce(r.payload, '{}'),
           coalesce(r.max_attempts, (r.ty->>'max_attempts')::integer),
           coalesce(r.timeout_seconds, (r.ty->>'timeout_seconds')::integer),
           r.service_required,
           nullif(r.requirements, '{}'),
           r.customer_id,
           r.tags,
           r.metadata,
           r.idempotency_key,
           parents,
           r.depends_on
      FROM (
        SELECT c.*,
               coalesce(c.run_at, now()) AS at,
               CASE WHEN has_deps AND c.depends_on IS NOT NULL THEN
                   (SELECT count(DISTINCT p)::integer
                      FROM unnest(c.depends_on) p
                     WHERE NOT EXISTS (SELECT 1 FROM spool.job_archive a
                                        WHERE a.id = p AND a.status = 'completed'))
               ELSE 0 END AS parents
          FROM (
        SELECT s.*,
            CASE
            WHEN s.t_name IS NULL THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || CASE WHEN s.type IS NULL THEN 'job type is required'
                                                 ELSE format('unknown job type "%s"', s.type) END,
                            'register it with spool.register_type() or enable auto_register_types')
            WHEN s.priority NOT BETWEEN 0 AND 100 THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || format('priority must be an integer from 0 to 100, got %s', s.priority))
            WHEN jsonb_typeof(s.payload) = 'null' THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || 'payload must not be null')
            WHEN length(s.queue) NOT BETWEEN 1 AND 128 THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || 'queue must be 1 to 128 characters')
            WHEN jsonb_typeof(s.requirements) NOT IN ('object', 'null') THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || 'requirements must be a JSON object')
            WHEN jsonb_typeof(s.metadata) NOT IN ('object', 'null') THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || 'metadata must be a JSON object')
            WHEN length(s.idempotency_key) NOT BETWEEN 1 AND 255 THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || 'idempotency_key must be a string of 1 to 255 characters')
            WHEN s.max_attempts NOT BETWEEN 1 AND 1000 THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || 'max_attempts must be an integer from 1 to 1000')
            WHEN s.timeout_seconds NOT BETWEEN 1 AND 31536000 THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || 'timeout_seconds must be an integer from 1 to 31536000')
            WHEN s.ty->'payload_schema' IS NOT NULL
                 AND spool.validate_payload(s.ty->'payload_schema', coalesce(s.payload, '{}')) IS NOT NULL THEN
                spool.raise('SP422', spool.job_ref(n, s.ord) || format('type "%s": %s', s.t_name,
                            spool.validate_payload(s.ty->'payload_schema', coalesce(s.payload, '{}'))))
            ELSE true
            END AS ok
          FROM (
        SELECT x.*, CASE WHEN types ? x.type THEN x.type END AS t_name,
               types->x.type AS ty
          FROM ROWS FROM (jsonb_to_recordset(jobs) AS (
                   id uuid, type text, payload jsonb, priority integer, run_at timestamptz,
                   queue text, service_required text, requirements jsonb, customer_id text,
                   tags text[], metadata jsonb, idempotency_key text, depends_on uuid[],
                   max_attempts integer, timeout_seconds integer))
               WITH ORDINALITY AS x(id, type, payload, priority, run_at, queue, service_required,
                                    requirements, customer_id, tags, metadata, idempotency_key,
                                    depends_on, max_attempts, timeout_seconds, ord)
               ) s
               ) c
         WHERE ok
           ) r
$$;
