-- spool.validate_payload(schema jsonb, payload jsonb) -> text
-- Checks a payload against a type's small schema and returns NULL when it conforms, or a
-- message naming the first problem. The schema is the common subset of JSON Schema:
--   {"required": ["w", "h"],
--    "properties": {"w": {"type": "integer"}, "mode": {"type": ["string", "null"]}},
--    "additionalProperties": false}
-- Types: object, array, string, number, integer, boolean, null. The payload must be an object.
CREATE OR REPLACE FUNCTION spool.validate_payload(p_schema jsonb, p_payload jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k        text;
    prop     jsonb;
    want     jsonb;
    got      text;
    ok       boolean;
BEGIN
    IF p_schema IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_payload) IS DISTINCT FROM 'object' THEN
        RETURN format('payload must be a JSON object, got %s', coalesce(jsonb_typeof(p_payload), 'null'));
    END IF;
    IF jsonb_typeof(p_schema->'required') = 'array' THEN
        FOR k IN SELECT jsonb_array_elements_text(p_schema->'required') LOOP
            IF NOT p_payload ? k THEN
                RETURN format('payload is missing required key "%s"', k);
            END IF;
        END LOOP;
    END IF;
    IF jsonb_typeof(p_schema->'properties') = 'object' THEN
        FOR k, prop IN SELECT key, value FROM jsonb_each(p_schema->'properties') LOOP
            CONTINUE WHEN NOT p_payload ? k OR prop->'type' IS NULL;
            got := jsonb_typeof(p_payload->k);
            want := CASE WHEN jsonb_typeof(prop->'type') = 'array' THEN prop->'type'
                         ELSE jsonb_build_array(prop->'type') END;
            ok := want ? got
                  OR (got = 'number' AND want ? 'integer'
                      AND (p_payload->>k)::numeric = trunc((p_payload->>k)::numeric));
            IF NOT ok THEN
                RETURN format('payload key "%s" must be %s, got %s', k,
                              (SELECT string_agg(t, ' or ') FROM jsonb_array_elements_text(want) t), got);
            END IF;
        END LOOP;
    END IF;
    IF p_schema->'additionalProperties' = 'false'::jsonb THEN
        SELECT key INTO k FROM jsonb_object_keys(p_payload) key
         WHERE NOT coalesce(p_schema->'properties', '{}') ? key LIMIT 1;
        IF FOUND THEN
            RETURN format('payload key "%s" is not allowed by the type''s schema', k);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
