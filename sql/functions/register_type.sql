-- spool.register_type(name, max_attempts, backoff_base_seconds, backoff_max_seconds,
--                     timeout_seconds, priority, retention, payload_schema, description)
--   -> spool.job_types
-- Creates or updates a job type. Backoff before attempt n+1 is
-- min(backoff_max, backoff_base * 2^(n-1)) seconds, jittered to 75%..100%. payload_schema
-- is checked at submit (see spool.validate_payload). Invalid values raise SP422.
CREATE OR REPLACE FUNCTION spool.register_type(
    name                 text,
    max_attempts         integer DEFAULT 5,
    backoff_base_seconds double precision DEFAULT 2,
    backoff_max_seconds  double precision DEFAULT 3600,
    timeout_seconds      integer DEFAULT 1800,
    priority             integer DEFAULT 50,
    retention            interval DEFAULT '7 days',
    payload_schema       jsonb DEFAULT NULL,
    description          text DEFAULT NULL
) RETURNS spool.job_types
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r spool.job_types;
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_.:-]{1,128}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('invalid type name %L: use 1 to 128 letters, digits, _ . : -', name);
    ELSIF max_attempts IS NULL OR max_attempts NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'max_attempts must be from 1 to 1000';
    ELSIF backoff_base_seconds IS NULL OR backoff_base_seconds < 0
          OR backoff_max_seconds IS NULL OR backoff_max_seconds < backoff_base_seconds THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = 'backoff needs 0 <= backoff_base_seconds <= backoff_max_seconds';
    ELSIF timeout_seconds IS NULL OR timeout_seconds NOT BETWEEN 1 AND 31536000 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'timeout_seconds must be from 1 to 31536000';
    ELSIF priority IS NULL OR priority NOT BETWEEN 0 AND 100 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'priority must be from 0 to 100';
    ELSIF retention IS NULL OR retention < '0'::interval THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'retention must not be negative';
    ELSIF payload_schema IS NOT NULL AND (jsonb_typeof(payload_schema) <> 'object'
          OR jsonb_typeof(payload_schema->'required') NOT IN ('array')
             AND payload_schema ? 'required'
          OR payload_schema ? 'properties' AND jsonb_typeof(payload_schema->'properties') <> 'object') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = 'payload_schema must be an object like {"required":[...],"properties":{"k":{"type":"string"}}}';
    END IF;

    INSERT INTO spool.job_types AS t (name, max_attempts, backoff_base_seconds, backoff_max_seconds,
                                      timeout_seconds, priority, retention, payload_schema, description)
    VALUES (register_type.name, register_type.max_attempts, register_type.backoff_base_seconds,
            register_type.backoff_max_seconds, register_type.timeout_seconds,
            register_type.priority, register_type.retention, register_type.payload_schema,
            register_type.description)
    ON CONFLICT ON CONSTRAINT job_types_pkey DO UPDATE
       SET max_attempts = excluded.max_attempts,
           backoff_base_seconds = excluded.backoff_base_seconds,
           backoff_max_seconds = excluded.backoff_max_seconds,
           timeout_seconds = excluded.timeout_seconds,
           priority = excluded.priority,
           retention = excluded.retention,
           payload_schema = excluded.payload_schema,
           description = coalesce(excluded.description, t.description),
           updated_at = now()
    RETURNING * INTO r;
    RETURN r;
END
$$;
