-- spool.setting(key text) -> jsonb
-- The value of a row of spool.settings, or NULL when the key is not set.
CREATE OR REPLACE FUNCTION spool.setting(p_key text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- plpgsql so that the lookup's plan is cached for the session: a sql function with a
    -- FROM clause cannot be inlined and would be planned again on every call, and this one
    -- sits on the submit and claim hot paths.
    RETURN (SELECT s.value FROM spool.settings s WHERE s.key = p_key);
END
$$;
