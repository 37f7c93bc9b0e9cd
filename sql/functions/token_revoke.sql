-- spool.token_revoke(token text) -> SETOF uuid
-- Revokes the live token(s) whose id or name is `token`; returns their ids. SP404 when none
-- matches (unknown, or already revoked). `token` is compared as an id only when it has the
-- shape of a UUID (the cast happens in an IF, never in the query, so any name is safe to
-- pass). spoold caches lookups for auth_cache_seconds, so a revocation takes effect within
-- that many seconds everywhere.
CREATE OR REPLACE FUNCTION spool.token_revoke(token text)
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
    by_id uuid;
BEGIN
    IF token ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        by_id := token::uuid;
    END IF;
    RETURN QUERY
    UPDATE spool.api_tokens t SET revoked_at = now()
     WHERE t.revoked_at IS NULL
       AND (t.name = token_revoke.token OR t.id = by_id)
    RETURNING t.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP404',
            MESSAGE = format('no live token with id or name %L', token);
    END IF;
END
$$;
