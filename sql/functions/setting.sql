-- spool.setting(key text) -> jsonb
-- The value of a row of spool.settings, or NULL when the key is not set.
CREATE OR REPLACE FUNCTION spool.setting(p_key text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT value FROM spool.settings WHERE key = p_key
$$;
