-- spool.raise(sqlstate text, message text, detail text) -> any value of the caller's type
-- Raises an error from inside a SQL expression (CASE WHEN bad THEN spool.raise(...) END), so a
-- set-based statement can reject a bad row and, with it, the whole statement: nothing is
-- half-written. Never returns.
CREATE OR REPLACE FUNCTION spool.raise(p_sqlstate text, p_message text, p_detail text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message, DETAIL = coalesce(p_detail, '');
END
$$;
