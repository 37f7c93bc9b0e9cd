-- spool.token_list() -> TABLE(id, name, role, tenant, created_at, last_used_at, revoked_at)
-- Every token, newest first; hashes are never returned.
CREATE OR REPLACE FUNCTION spool.token_list()
RETURNS TABLE (id uuid, name text, role text, tenant text, created_at timestamptz,
               last_used_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.name, t.role, t.tenant, t.created_at, t.last_used_at, t.revoked_at
      FROM spool.api_tokens t
     ORDER BY t.created_at DESC, t.id;
$$;
