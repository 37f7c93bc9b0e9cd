-- spool.submit_validate(jobs jsonb) -> void
-- The slow, precise validator behind submit_many: walks the JSON array element by element
-- and raises a clear error naming the first bad job and field (SP400 malformed, SP422
-- invalid). submit_many's fast path parses jobs with typed casts; when such a cast fails,
-- it calls this to turn the cast error into a message a user can act on.
CREATE OR REPLACE FUNCTION spool.submit_validate(jobs jsonb) RETURNS void
LANGUAGE sql VOLATILE AS $$
    WITH n AS MATERIALIZED (
        SELECT jsonb_array_length(jobs) AS n
    ), src AS (
        SELECT e.j, e.ord,
               CASE WHEN (SELECT n FROM n) > 1 THEN format('jobs[%s]: ', e.ord - 1) ELSE '' END AS pfx,
               t AS ty
          FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(j, ord)
          LEFT JOIN spool.job_types t ON t.name = e.j->>'type'
         ORDER BY e.ord
    ), chk AS (
        SELECT s.*,
            CASE
            WHEN jsonb_typeof(j) IS DISTINCT FROM 'object' THEN
                spool.raise('SP400', pfx || 'a job must be a JSON object')
            WHEN jsonb_typeof(j->'type') IS DISTINCT FROM 'string' THEN
                spool.raise('SP422', pfx || 'job type is required (a string)')
            WHEN (ty).name IS NULL THEN
                spool.raise('SP422', pfx || format('unknown job type "%s"', j->>'type'),
                            'register it with spool.register_type() or enable auto_register_types')
            WHEN j ? 'priority' AND jsonb_typeof(j->'priority') <> 'null'
                 AND (jsonb_typeof(j->'priority') <> 'number'
                      OR (j->>'priority')::numeric NOT BETWEEN 0 AND 100
                      OR (j->>'priority')::numeric <> trunc((j->>'priority')::numeric)) THEN
                spool.raise('SP422', pfx || format('priority must be an integer from 0 to 100, got %s', j->'priority'))
            WHEN j ? 'payload' AND jsonb_typeof(j->'payload') = 'null' THEN
                spool.raise('SP422', pfx || 'payload must not be null')
            WHEN jsonb_typeof(j->'queue') NOT IN ('string', 'null') THEN
                spool.raise('SP422', pfx || 'queue must be a string')
            WHEN length(j->>'queue') NOT BETWEEN 1 AND 128 THEN
                spool.raise('SP422', pfx || 'queue must be 1 to 128 characters')
            WHEN jsonb_typeof(j->'service_required') NOT IN ('string', 'null') THEN
                spool.raise('SP422', pfx || 'service_required must be a string')
            WHEN jsonb_typeof(j->'requirements') NOT IN ('object', 'null') THEN
                spool.raise('SP422', pfx || 'requirements must be a JSON object')
            WHEN jsonb_typeof(j->'customer_id') NOT IN ('string', 'number', 'null') THEN
                spool.raise('SP422', pfx || 'customer_id must be a string')
            WHEN jsonb_typeof(j->'tags') NOT IN ('array', 'null')
                 OR (jsonb_typeof(j->'tags') = 'array' AND j->'tags' @? '$[*] ? (@.type() != "string")') THEN
                spool.raise('SP422', pfx || 'tags must be an array of strings')
            WHEN jsonb_typeof(j->'metadata') NOT IN ('object', 'null') THEN
                spool.raise('SP422', pfx || 'metadata must be a JSON object')
            WHEN jsonb_typeof(j->'idempotency_key') NOT IN ('string', 'null')
                 OR length(j->>'idempotency_key') NOT BETWEEN 1 AND 255 THEN
                spool.raise('SP422', pfx || 'idempotency_key must be a string of 1 to 255 characters')
            WHEN jsonb_typeof(j->'run_at') NOT IN ('string', 'null') THEN
                spool.raise('SP422', pfx || 'run_at must be a timestamp string')
            WHEN jsonb_typeof(j->'run_at') = 'string' AND spool.try_timestamptz(j->>'run_at') IS NULL THEN
                spool.raise('SP422', pfx || format('run_at is not a valid timestamp: %s', j->'run_at'))
            WHEN jsonb_typeof(j->'depends_on') NOT IN ('array', 'null') THEN
                spool.raise('SP422', pfx || 'depends_on must be an array of job ids')
            WHEN jsonb_typeof(j->'max_attempts') NOT IN ('number', 'null')
                 OR (j->>'max_attempts')::numeric NOT BETWEEN 1 AND 1000
                 OR (j->>'max_attempts')::numeric <> trunc((j->>'max_attempts')::numeric) THEN
                spool.raise('SP422', pfx || 'max_attempts must be an integer from 1 to 1000')
            WHEN jsonb_typeof(j->'timeout_seconds') NOT IN ('number', 'null')
                 OR (j->>'timeout_seconds')::numeric NOT BETWEEN 1 AND 31536000
                 OR (j->>'timeout_seconds')::numeric <> trunc((j->>'timeout_seconds')::numeric) THEN
                spool.raise('SP422', pfx || 'timeout_seconds must be an integer from 1 to 31536000')
            WHEN (ty).payload_schema IS NOT NULL
                 AND spool.validate_payload((ty).payload_schema, coalesce(j->'payload', '{}')) IS NOT NULL THEN
                spool.raise('SP422', pfx || format('type "%s": %s', (ty).name,
                            spool.validate_payload((ty).payload_schema, coalesce(j->'payload', '{}'))))
            ELSE true
            END AS ok
          FROM src s
    )
    SELECT NULL::void FROM chk WHERE NOT ok
$$;
