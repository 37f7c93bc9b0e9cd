-- spool.token_create(name text, role text, tenant text, token_hash text) -> uuid
-- Records an API token by its SHA-256 hash (lowercase hex); the token itself is never stored
-- or sent to the database. role is admin, client or worker (SP422 otherwise); tenant binds a
-- client token to one customer_id (NULL = all tenants). Returns the token's id.
CREATE OR REPLACE FUNCTION spool.token_create(name text, role text, tenant text, token_hash text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    new_id uuid;
BEGIN
    IF role IS NULL OR role NOT IN ('admin', 'client', 'worker') THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = format('role must be admin, client or worker, not %L', role);
    ELSIF token_hash IS NULL OR token_hash !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'token_hash must be 64 lowercase hex digits';
    ELSIF name IS NOT NULL AND length(name) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'name must be 1 to 200 characters';
    ELSIF tenant IS NOT NULL AND length(tenant) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'tenant must be 1 to 200 characters';
    END IF;
    INSERT INTO spool.api_tokens AS t (name, role, tenant, token_hash)
    VALUES (name, role, tenant, token_hash)
    RETURNING t.id INTO new_id;
    RETURN new_id;
END
$$;
