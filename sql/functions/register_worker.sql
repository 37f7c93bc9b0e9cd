-- spool.register_worker(worker_id, capabilities, name, transport, metadata) -> spool.workers
-- Creates or refreshes a worker's registry row (status active, heartbeat now). claim() uses
-- these capabilities when it is called with NULL capabilities.
CREATE OR REPLACE FUNCTION spool.register_worker(worker_id text, capabilities jsonb DEFAULT '{}',
                                                 name text DEFAULT NULL,
                                                 transport text DEFAULT 'pg',
                                                 metadata jsonb DEFAULT NULL)
RETURNS spool.workers
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    w spool.workers;
BEGIN
    IF worker_id IS NULL OR length(worker_id) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'worker_id must be 1 to 200 characters';
    ELSIF capabilities IS NOT NULL AND jsonb_typeof(capabilities) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'capabilities must be a JSON object';
    END IF;
    INSERT INTO spool.workers AS x (id, name, transport, capabilities, metadata, status,
                                    registered_at, last_heartbeat_at)
    VALUES (worker_id, name, coalesce(transport, 'pg'), coalesce(capabilities, '{}'), metadata,
            'active', now(), now())
    ON CONFLICT (id) DO UPDATE
       SET name = coalesce(excluded.name, x.name), transport = excluded.transport,
           capabilities = excluded.capabilities, metadata = coalesce(excluded.metadata, x.metadata),
           status = 'active', last_heartbeat_at = now()
    RETURNING * INTO w;
    RETURN w;
END
$$;
