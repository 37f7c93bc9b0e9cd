-- spool.job_matches(requirements jsonb, service_required text, customer_id text,
--                   capabilities jsonb) -> boolean
-- Whether a worker with these capabilities may run a job, by the emp matching rules
-- (reference/emp-protocol.md §5.2). The service check (service_required in
-- capabilities.services) is done by claim() itself; this covers the rest:
--   positive set = requirements.positive_requirements if present, else requirements itself;
--   hardware.{gpu_memory_gb,cpu_cores,ram_gb}: worker's value >= required ('all' = any);
--     other hardware keys use the custom rule;
--   models: every model present in capabilities.models[service_required] (all services when
--     the job names none); 'all' = any;
--   customer_isolation 'strict': the worker's customer_access.isolation is 'strict';
--   customer lists (applied whenever the worker has them and the job names a customer): a
--     worker with allowed_customers takes only those customers' jobs (and jobs of no
--     customer); a job of a denied customer is never taken;
--   any other key: spool.capability_satisfies(required, capabilities #> dotted path);
--   negative_requirements: hardware sub-keys reject on an equal worker value, other keys
--     reject when the custom rule passes.
CREATE OR REPLACE FUNCTION spool.job_matches(p_req jsonb, p_service text, p_customer text,
                                             p_caps jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    pos      jsonb;
    k        text;
    v        jsonb;
    hk       text;
    hv       jsonb;
    have     jsonb;
    models   jsonb;
    access   jsonb := p_caps->'customer_access';
BEGIN
    -- Customer lists bind the worker even when the job states no isolation requirement.
    IF jsonb_typeof(access) = 'object' THEN
        IF p_customer IS NOT NULL AND jsonb_typeof(access->'allowed_customers') = 'array'
           AND NOT access->'allowed_customers' ? p_customer THEN
            RETURN false;
        END IF;
        IF p_customer IS NOT NULL AND jsonb_typeof(access->'denied_customers') = 'array'
           AND access->'denied_customers' ? p_customer THEN
            RETURN false;
        END IF;
    END IF;
    IF p_req IS NULL OR jsonb_typeof(p_req) <> 'object' THEN
        RETURN true;
    END IF;
    pos := CASE WHEN p_req ? 'positive_requirements' THEN p_req->'positive_requirements' ELSE p_req END;
    IF jsonb_typeof(pos) <> 'object' THEN
        pos := '{}';
    END IF;

    FOR k, v IN SELECT key, value FROM jsonb_each(pos) LOOP
        CASE k
        WHEN 'positive_requirements', 'negative_requirements', 'service_type' THEN
            NULL;
        WHEN 'hardware' THEN
            IF jsonb_typeof(v) = 'object' THEN
                FOR hk, hv IN SELECT key, value FROM jsonb_each(v) LOOP
                    CONTINUE WHEN hv = '"all"'::jsonb OR jsonb_typeof(hv) = 'null';
                    have := p_caps->'hardware'->hk;
                    IF hk IN ('gpu_memory_gb', 'cpu_cores', 'ram_gb') THEN
                        IF jsonb_typeof(have) IS DISTINCT FROM 'number' OR jsonb_typeof(hv) <> 'number'
                           OR have::text::numeric < hv::text::numeric THEN
                            RETURN false;
                        END IF;
                    ELSIF NOT spool.capability_satisfies(hv, have) THEN
                        RETURN false;
                    END IF;
                END LOOP;
            END IF;
        WHEN 'models' THEN
            IF jsonb_typeof(v) = 'array' THEN
                IF p_service IS NOT NULL THEN
                    models := p_caps->'models'->p_service;
                ELSE
                    SELECT coalesce(jsonb_agg(m), '[]') INTO models
                      FROM jsonb_each(coalesce(p_caps->'models', '{}')) s,
                           jsonb_array_elements(CASE WHEN jsonb_typeof(s.value) = 'array'
                                                     THEN s.value ELSE '[]' END) m
                     WHERE jsonb_typeof(p_caps->'models') = 'object';
                END IF;
                IF jsonb_typeof(models) IS DISTINCT FROM 'array' OR NOT models @> v THEN
                    RETURN false;
                END IF;
            END IF;
        WHEN 'customer_isolation' THEN
            IF v = '"strict"'::jsonb AND access->>'isolation' IS DISTINCT FROM 'strict' THEN
                RETURN false;
            END IF;
        ELSE
            IF NOT spool.capability_satisfies(v, p_caps #> string_to_array(k, '.')) THEN
                RETURN false;
            END IF;
        END CASE;
    END LOOP;

    IF jsonb_typeof(p_req->'negative_requirements') = 'object' THEN
        FOR k, v IN SELECT key, value FROM jsonb_each(p_req->'negative_requirements') LOOP
            IF k = 'hardware' AND jsonb_typeof(v) = 'object' THEN
                IF EXISTS (SELECT 1 FROM jsonb_each(v) h
                            WHERE p_caps->'hardware'->h.key = h.value) THEN
                    RETURN false;
                END IF;
            ELSIF spool.capability_satisfies(v, p_caps #> string_to_array(k, '.')) THEN
                RETURN false;
            END IF;
        END LOOP;
    END IF;
    RETURN true;
END
$$;
