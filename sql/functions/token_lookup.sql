-- spool.token_lookup(token_hash text) -> TABLE(id uuid, name text, role text, tenant text)
-- The token with this SHA-256 hash, or no row when it is unknown or revoked. Records
-- last_used_at at most once a minute per token, so lookups stay cheap.
CREATE OR REPLACE FUNCTION spool.token_lookup(token_hash text)
RETURNS TABLE (id uuid, name text, role text, tenant text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    UPDATE spool.api_tokens t SET last_used_at = now()
     WHERE t.token_hash = token_lookup.token_hash AND t.revoked_at IS NULL
       AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute');
    RETURN QUERY
    SELECT t.id, t.name, t.role, t.tenant FROM spool.api_tokens t
     WHERE t.token_hash = token_lookup.token_hash AND t.revoked_at IS NULL;
END
$$;
