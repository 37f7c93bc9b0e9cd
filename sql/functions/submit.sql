-- spool.submit(type, payload, priority, run_at, queue, service_required, requirements,
--              customer_id, tags, metadata, idempotency_key, depends_on, max_attempts,
--              timeout_seconds, id) -> SETOF spool.jobs (one row)
-- Submits one job; every parameter but type has a default:
--   select * from spool.submit('resize', '{"w":100}');
-- Same rules, errors and transitions as spool.submit_many (a batch of one), through its
-- single-job path spool.submit_one.
CREATE OR REPLACE FUNCTION spool.submit(
    type             text,
    payload          jsonb DEFAULT '{}',
    priority         integer DEFAULT NULL,
    run_at           timestamptz DEFAULT NULL,
    queue            text DEFAULT 'default',
    service_required text DEFAULT NULL,
    requirements     jsonb DEFAULT NULL,
    customer_id      text DEFAULT NULL,
    tags             text[] DEFAULT NULL,
    metadata         jsonb DEFAULT NULL,
    idempotency_key  text DEFAULT NULL,
    depends_on       uuid[] DEFAULT NULL,
    max_attempts     integer DEFAULT NULL,
    timeout_seconds  integer DEFAULT NULL,
    id               uuid DEFAULT NULL
) RETURNS SETOF spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    j jsonb;
BEGIN
    -- Only the top-level nulls are dropped (a payload keeps its own null values).
    SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') INTO j
      FROM jsonb_each(jsonb_build_object(
        'type', submit.type,
        'payload', coalesce(submit.payload, '{}'::jsonb),
        'priority', submit.priority,
        'run_at', submit.run_at,
        'queue', coalesce(submit.queue, 'default'),
        'service_required', submit.service_required,
        'requirements', submit.requirements,
        'customer_id', submit.customer_id,
        'tags', to_jsonb(submit.tags),
        'metadata', submit.metadata,
        'idempotency_key', submit.idempotency_key,
        'depends_on', to_jsonb(submit.depends_on),
        'max_attempts', submit.max_attempts,
        'timeout_seconds', submit.timeout_seconds,
        'id', submit.id)) e
     WHERE e.value <> 'null'::jsonb;
    RETURN QUERY SELECT * FROM spool.submit_one(j);
END
$$;
