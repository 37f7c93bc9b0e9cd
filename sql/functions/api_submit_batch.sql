-- spool.api_submit_batch(jobs jsonb, tenant text) -> jsonb (array of jobs)
-- A batch submitted through the REST API (POST /v1/jobs/batch): all or nothing, as
-- spool.submit_many. tenant (NULL for none) becomes every job's customer_id; a job naming
-- another customer_id fails the whole batch (SP422). Jobs come back without lease tokens.
CREATE OR REPLACE FUNCTION spool.api_submit_batch(jobs jsonb, tenant text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    js  jsonb := api_submit_batch.jobs;
    bad integer;
    out jsonb;
BEGIN
    IF js IS NULL OR jsonb_typeof(js) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'the body must be a JSON array of jobs';
    END IF;
    IF tenant IS NOT NULL THEN
        SELECT min(o) INTO bad FROM jsonb_array_elements(js) WITH ORDINALITY AS e(v, o)
         WHERE jsonb_typeof(v) = 'object' AND v ? 'customer_id'
           AND v->'customer_id' <> to_jsonb(tenant);
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SP422',
                MESSAGE = format('job %s: customer_id must be the tenant of the token (or left out)', bad - 1);
        END IF;
        js := (SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(v) = 'object'
                                              THEN v || jsonb_build_object('customer_id', tenant)
                                              ELSE v END ORDER BY o), '[]')
                 FROM jsonb_array_elements(js) WITH ORDINALITY AS e(v, o));
    END IF;
    SELECT coalesce(jsonb_agg(to_jsonb(s) - 'lease_token'), '[]') INTO out
      FROM spool.submit_many(js) s;
    RETURN out;
END
$$;
