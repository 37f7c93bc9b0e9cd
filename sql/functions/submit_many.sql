-- spool.submit_many(jobs jsonb) -> SETOF spool.jobs, in input order
-- Submits a JSON array of job objects in one statement-set. Keys per job (only "type" is
-- required): id, type, payload, priority, run_at, queue, service_required, requirements,
-- customer_id, tags, metadata, idempotency_key, depends_on, max_attempts, timeout_seconds.
--
-- Validation is part of the insert itself (spool.raise inside the SELECT), so a bad job
-- aborts the whole call and nothing is written. Errors: SP400 malformed, SP422 invalid.
-- Transitions: (new) -> blocked (unfinished dependencies) | scheduled (run_at in the future)
--              | pending.
-- Idempotency: a key already held by a job returns that job instead of a new one (also when
-- the key repeats inside the batch). Concurrent submits with one key wait on the unique index,
-- so exactly one job is created.
-- Dependencies: depends_on names existing jobs or jobs of the same batch (by their "id").
-- Unknown parents, dead or cancelled parents and cycles are rejected. Live parents are locked
-- first so that a parent finishing concurrently cannot leave its new child blocked forever.
-- Writes 'submitted' events (one log row per status/type/queue/customer group of the batch)
-- and a coalesced notification.
-- Speed: the statements run with generic plans (a custom plan would copy the whole jobs
-- document into the plan and re-plan it on every call); without keys or dependencies the
-- parsed rows go straight from the parser (submit_rows, inlined) into the insert.
CREATE OR REPLACE FUNCTION spool.submit_many(jobs jsonb) RETURNS SETOF spool.jobs
LANGUAGE plpgsql VOLATILE
SET jit = off
SET work_mem = '64MB'
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    n         integer;
    max_n     integer := coalesce(spool.setting('max_batch_jobs')::text::integer, 1000000);
    has_deps  boolean;
    has_ids   boolean;
    has_keys  boolean;
    bad       text;
    ids       uuid[];
    keys      text[];
    types     jsonb;
BEGIN
    IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400',
            MESSAGE = 'jobs must be a JSON array of job objects';
    END IF;
    n := jsonb_array_length(jobs);
    IF n = 0 THEN
        RETURN;
    END IF;
    IF n > max_n THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('batch of %s jobs exceeds max_batch_jobs (%s)', n, max_n);
    END IF;

    IF spool.setting('auto_register_types') = 'true'::jsonb THEN
        INSERT INTO spool.job_types (name)
        SELECT DISTINCT e->>'type' FROM jsonb_array_elements(jobs) e
         WHERE jsonb_typeof(e) = 'object' AND e->>'type' ~ '^[A-Za-z0-9_.:-]{1,128}$'
        ON CONFLICT DO NOTHING;
    END IF;

    SELECT coalesce(jsonb_object_agg(t.name, to_jsonb(t)), '{}') INTO types FROM spool.job_types t;
    has_deps := jobs @? '$[*].depends_on[*]';
    has_ids  := jobs @? '$[*].id ? (@ != null)';
    has_keys := jobs @? '$[*].idempotency_key ? (@ != null)';

    BEGIN
        IF has_ids OR has_deps THEN
            PERFORM spool.submit_check_links(jobs);
        END IF;

        IF NOT has_keys AND NOT has_deps THEN
            -- The hot path: one statement. submit_rows is inlined, so the parsed rows stream
            -- into the insert (seq drawn in array order), and the rows come back from
            -- RETURNING in submission order.
            RETURN QUERY
            WITH ins AS (
                INSERT INTO spool.job_live (id, seq, type, queue, status, priority, run_at, payload,
                                            max_attempts, timeout_seconds, service_required,
                                            requirements, customer_id, tags, metadata,
                                            idempotency_key, pending_parents)
                SELECT coalesce(s.id, spool.job_uuid(s.seq)), s.seq, s.type, s.queue, s.status,
                       s.priority, s.run_at, s.payload, s.max_attempts, s.timeout_seconds,
                       s.service_required, s.requirements, s.customer_id, s.tags, s.metadata,
                       s.idempotency_key, s.pending_parents
                  FROM (SELECT r.*, nextval('spool.job_seq') AS seq
                          FROM spool.submit_rows(jobs, n, false, types) r) s
                RETURNING *
            ), ev AS (
                INSERT INTO spool.event_log (job_ids, kind, status, type, queue, customer_id)
                SELECT array_agg(id), 'submitted', status, type, queue, customer_id FROM ins
                 GROUP BY status, type, queue, customer_id
            )
            SELECT * FROM ins;
        ELSE
            -- Idempotency keys and/or dependencies: the parsed rows feed the key, job and
            -- dependency inserts, and the result is read back once the keys are settled.
            WITH v AS MATERIALIZED (
                SELECT coalesce(s.id, spool.job_uuid(s.seq)) AS id, s.seq, s.type, s.queue,
                       s.status, s.priority, s.run_at, s.payload, s.max_attempts,
                       s.timeout_seconds, s.service_required, s.requirements, s.customer_id,
                       s.tags, s.metadata, s.idempotency_key, s.pending_parents, s.depends_on
                  FROM (SELECT r.*, nextval('spool.job_seq') AS seq
                          FROM spool.submit_rows(jobs, n, has_deps, types) r) s
            ), k AS (
                INSERT INTO spool.idempotency_keys (key, job_id)
                SELECT v.idempotency_key, v.id FROM v
                 WHERE v.idempotency_key IS NOT NULL ORDER BY v.seq
                ON CONFLICT (key) DO NOTHING
                RETURNING job_id
            ), ins AS (
                INSERT INTO spool.job_live (id, seq, type, queue, status, priority, run_at, payload,
                                            max_attempts, timeout_seconds, service_required,
                                            requirements, customer_id, tags, metadata,
                                            idempotency_key, pending_parents)
                SELECT v.id, v.seq, v.type, v.queue, v.status, v.priority, v.run_at, v.payload,
                       v.max_attempts, v.timeout_seconds, v.service_required, v.requirements,
                       v.customer_id, v.tags, v.metadata, v.idempotency_key, v.pending_parents
                  FROM v
                 WHERE v.idempotency_key IS NULL OR v.id IN (SELECT job_id FROM k)
                RETURNING *
            ), deps AS (
                INSERT INTO spool.job_dependencies (job_id, parent_id)
                SELECT DISTINCT v.id, p
                  FROM v, unnest(v.depends_on) p
                 WHERE has_deps AND v.depends_on IS NOT NULL
                   AND (v.idempotency_key IS NULL OR v.id IN (SELECT job_id FROM k))
            ), ev AS (
                INSERT INTO spool.event_log (job_ids, kind, status, type, queue, customer_id)
                SELECT array_agg(id), 'submitted', status, type, queue, customer_id FROM ins
                 GROUP BY status, type, queue, customer_id
            )
            SELECT array_agg(v.id ORDER BY v.seq), array_agg(v.idempotency_key ORDER BY v.seq)
              INTO ids, keys
              FROM v;

            -- A new statement sees keys committed by concurrent submitters and our own inserts.
            RETURN QUERY
            SELECT j.*
              FROM unnest(ids, keys) WITH ORDINALITY AS u(id, key, ord)
              LEFT JOIN spool.idempotency_keys ik ON ik.key = u.key
              JOIN spool.jobs j ON j.id = coalesce(ik.job_id, u.id)
             ORDER BY u.ord;
        END IF;
        IF has_deps THEN
            -- Parents inserted by this same batch learn now that they have dependents.
            UPDATE spool.job_live l SET has_dependents = true
             WHERE l.id IN (SELECT p::uuid FROM jsonb_array_elements(jobs) e,
                                   jsonb_array_elements_text(CASE WHEN jsonb_typeof(e->'depends_on') = 'array'
                                                                  THEN e->'depends_on' ELSE '[]' END) p)
               AND NOT l.has_dependents;
        END IF;
    EXCEPTION WHEN data_exception THEN
        -- A typed cast failed on some job: name the job and field, else re-raise as is.
        PERFORM spool.submit_validate(jobs);
        RAISE;
    END;

    PERFORM spool.notify(true);
END
$$;
