-- spool.try_timestamptz(text) -> timestamptz, or NULL when the text is not a timestamp.
-- Used only to explain a bad run_at; never on the fast path.
CREATE OR REPLACE FUNCTION spool.try_timestamptz(p text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN p::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
