-- spool.capability_satisfies(required jsonb, capability jsonb) -> boolean
-- The emp rule for a "custom" requirement key compared with the worker's capability of the
-- same name:
--   required array  -> the capability is an array holding every required item
--   required scalar vs capability array -> the array holds the scalar
--   required number -> capability number >= required
--   required string/boolean -> equal
--   required object -> the same rules per sub-key (capability must be an object)
--   missing capability -> false
CREATE OR REPLACE FUNCTION spool.capability_satisfies(p_req jsonb, p_cap jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
    v jsonb;
BEGIN
    IF p_cap IS NULL OR jsonb_typeof(p_cap) = 'null' THEN
        RETURN false;
    END IF;
    CASE jsonb_typeof(p_req)
    WHEN 'array' THEN
        RETURN jsonb_typeof(p_cap) = 'array' AND p_cap @> p_req;
    WHEN 'object' THEN
        IF jsonb_typeof(p_cap) <> 'object' THEN
            RETURN false;
        END IF;
        FOR k, v IN SELECT key, value FROM jsonb_each(p_req) LOOP
            IF NOT spool.capability_satisfies(v, p_cap->k) THEN
                RETURN false;
            END IF;
        END LOOP;
        RETURN true;
    WHEN 'null' THEN
        RETURN true;
    ELSE
        IF jsonb_typeof(p_cap) = 'array' THEN
            RETURN p_cap @> jsonb_build_array(p_req);
        END IF;
        IF jsonb_typeof(p_req) = 'number' THEN
            RETURN jsonb_typeof(p_cap) = 'number' AND p_cap::text::numeric >= p_req::text::numeric;
        END IF;
        RETURN p_cap = p_req;
    END CASE;
END
$$;
