-- spool.submit_one(job jsonb) -> SETOF spool.jobs (one row)
-- The single-job form of spool.submit_many, for the one-at-a-time path (spool.submit, the
-- REST API): the same rules, the same messages, but plain statements instead of the batch
-- pipeline, whose executor start-up dominates when a batch holds one job. A job this path
-- does not cover — explicit id, depends_on, a key it does not know, a value of the wrong
-- JSON type, auto-registered types — goes to spool.submit_many unchanged, which answers it
-- (or its precise error) exactly as before. Idempotency key: the first job with the key is
-- returned while it lives, also to concurrent submitters (they wait on the key's row).
CREATE OR REPLACE FUNCTION spool.submit_one(job jsonb) RETURNS SETOF spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    j      jsonb := submit_one.job;
    ty     spool.job_types;
    k      text;
    r      spool.job_live;
    seqno  bigint;
    prio   integer;
    q      text;
    why    text;
    owner  uuid;
BEGIN
    IF j IS NULL OR jsonb_typeof(j) <> 'object'
       OR j ?| ARRAY['id', 'depends_on', 'run_at']
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(j) key
                   WHERE key NOT IN ('type', 'payload', 'priority', 'queue', 'service_required',
                                     'requirements', 'customer_id', 'tags', 'metadata',
                                     'idempotency_key', 'max_attempts', 'timeout_seconds'))
       OR jsonb_typeof(j->'type') IS DISTINCT FROM 'string'
       OR coalesce(jsonb_typeof(j->'priority'), 'number') <> 'number'
       OR coalesce(jsonb_typeof(j->'max_attempts'), 'number') <> 'number'
       OR coalesce(jsonb_typeof(j->'timeout_seconds'), 'number') <> 'number'
       OR coalesce(jsonb_typeof(j->'queue'), 'string') <> 'string'
       OR coalesce(jsonb_typeof(j->'service_required'), 'string') NOT IN ('string', 'null')
       OR coalesce(jsonb_typeof(j->'customer_id'), 'string') NOT IN ('string', 'null')
       OR coalesce(jsonb_typeof(j->'idempotency_key'), 'string') NOT IN ('string', 'null')
       OR (j ? 'tags' AND jsonb_typeof(j->'tags') <> 'null'
           AND (jsonb_typeof(j->'tags') <> 'array'
                OR jsonb_path_exists(j->'tags', '$[*] ? (@.type() != "string")')))
       OR (j->>'priority') !~ '^-?[0-9]+$' AND j ? 'priority' AND jsonb_typeof(j->'priority') = 'number'
       OR (j->>'max_attempts') !~ '^-?[0-9]+$' AND jsonb_typeof(j->'max_attempts') = 'number'
       OR (j->>'timeout_seconds') !~ '^-?[0-9]+$' AND jsonb_typeof(j->'timeout_seconds') = 'number'
    THEN
        RETURN QUERY SELECT * FROM spool.submit_many(jsonb_build_array(j));
        RETURN;
    END IF;

    SELECT * INTO ty FROM spool.job_types t WHERE t.name = j->>'type';
    IF NOT FOUND THEN
        -- Unknown type (or auto-registration): submit_many owns that rule.
        RETURN QUERY SELECT * FROM spool.submit_many(jsonb_build_array(j));
        RETURN;
    END IF;

    prio := coalesce((j->>'priority')::numeric, ty.priority);
    q := coalesce(j->>'queue', 'default');
    why := CASE
        WHEN prio NOT BETWEEN 0 AND 100 THEN
            format('priority must be an integer from 0 to 100, got %s', prio)
        WHEN jsonb_typeof(j->'payload') = 'null' THEN 'payload must not be null'
        WHEN length(q) NOT BETWEEN 1 AND 128 THEN 'queue must be 1 to 128 characters'
        WHEN jsonb_typeof(j->'requirements') NOT IN ('object', 'null') THEN
            'requirements must be a JSON object'
        WHEN jsonb_typeof(j->'metadata') NOT IN ('object', 'null') THEN
            'metadata must be a JSON object'
        WHEN length(j->>'idempotency_key') NOT BETWEEN 1 AND 255 THEN
            'idempotency_key must be a string of 1 to 255 characters'
        WHEN (j->>'max_attempts')::numeric NOT BETWEEN 1 AND 1000 THEN
            'max_attempts must be an integer from 1 to 1000'
        WHEN (j->>'timeout_seconds')::numeric NOT BETWEEN 1 AND 31536000 THEN
            'timeout_seconds must be an integer from 1 to 31536000'
        WHEN ty.payload_schema IS NOT NULL THEN
            (SELECT format('type "%s": %s', ty.name, v)
               FROM spool.validate_payload(ty.payload_schema, coalesce(j->'payload', '{}')) v
              WHERE v IS NOT NULL)
        END;
    IF why IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = why;
    END IF;

    k := j->>'idempotency_key';
    seqno := nextval('spool.job_seq');
    r.id := spool.job_uuid(seqno);
    IF k IS NOT NULL THEN
        INSERT INTO spool.idempotency_keys (key, job_id) VALUES (k, r.id)
        ON CONFLICT (key) DO NOTHING;
        IF NOT FOUND THEN
            SELECT ik.job_id INTO owner FROM spool.idempotency_keys ik WHERE ik.key = k;
            RETURN QUERY SELECT * FROM spool.jobs x WHERE x.id = owner;
            RETURN;
        END IF;
    END IF;

    INSERT INTO spool.job_live AS l (id, seq, type, queue, status, priority, run_at, payload,
                                     max_attempts, timeout_seconds, service_required,
                                     requirements, customer_id, tags, metadata,
                                     idempotency_key, pending_parents)
    VALUES (r.id, seqno, ty.name, q, 'pending', prio, now(), coalesce(j->'payload', '{}'),
            coalesce((j->>'max_attempts')::integer, ty.max_attempts),
            coalesce((j->>'timeout_seconds')::integer, ty.timeout_seconds),
            j->>'service_required', nullif(nullif(j->'requirements', 'null'), '{}'),
            j->>'customer_id',
            CASE WHEN jsonb_typeof(j->'tags') = 'array'
                 THEN ARRAY(SELECT jsonb_array_elements_text(j->'tags')) END,
            nullif(j->'metadata', 'null'), k, 0)
    RETURNING * INTO r;

    INSERT INTO spool.event_log (job_ids, kind, status, type, queue, customer_id)
    VALUES (ARRAY[r.id], 'submitted', 'pending', r.type, r.queue, r.customer_id);
    PERFORM spool.notify(true);
    RETURN NEXT r;
END
$$;
