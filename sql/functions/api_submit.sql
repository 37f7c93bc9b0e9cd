-- spool.api_submit(body jsonb, idempotency_key text, request_hash text, tenant text)
--   -> TABLE(created boolean, job jsonb)
-- One job submitted through the REST API (POST /v1/jobs); the rules are spool.submit_many's
-- (through spool.submit_one).
-- tenant (the caller's token tenant, NULL for none) becomes the job's customer_id; a body
-- naming another customer_id is refused (SP422). idempotency_key (the Idempotency-Key header)
-- becomes the job's key; request_hash is a hash of the request (tenant and body) recorded
-- with the key: the same key with the same request returns the original job (created =
-- false), the same key with a different request is refused (SP422, naming the original job
-- in DETAIL only when the caller's tenant owns it) and changes nothing.
-- The job comes back as JSON without its lease token.
CREATE OR REPLACE FUNCTION spool.api_submit(body jsonb, idempotency_key text DEFAULT NULL,
                                            request_hash text DEFAULT NULL,
                                            tenant text DEFAULT NULL)
RETURNS TABLE (created boolean, job jsonb)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    j      jsonb := api_submit.body;
    r      spool.jobs;
    stored text;
BEGIN
    IF j IS NULL OR jsonb_typeof(j) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'the body must be a JSON object (a job)';
    END IF;
    IF tenant IS NOT NULL THEN
        IF j ? 'customer_id' AND j->'customer_id' <> to_jsonb(tenant) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP422',
                MESSAGE = 'customer_id must be the tenant of the token (or left out)';
        END IF;
        j := j || jsonb_build_object('customer_id', tenant);
    END IF;
    IF idempotency_key IS NOT NULL THEN
        IF j ? 'idempotency_key' AND j->'idempotency_key' <> to_jsonb(idempotency_key) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP422',
                MESSAGE = 'idempotency_key in the body differs from the Idempotency-Key header';
        END IF;
        j := j || jsonb_build_object('idempotency_key', idempotency_key);
    END IF;

    SELECT * INTO r FROM spool.submit_one(j);

    IF idempotency_key IS NOT NULL THEN
        UPDATE spool.idempotency_keys k
           SET request_hash = coalesce(k.request_hash, api_submit.request_hash)
         WHERE k.key = idempotency_key
        RETURNING k.request_hash INTO stored;
        IF stored IS DISTINCT FROM request_hash THEN
            -- The original job is named only to a caller that may see it: keys are one
            -- namespace, and another tenant must not learn its jobs' ids this way.
            RAISE EXCEPTION USING ERRCODE = 'SP422',
                MESSAGE = 'Idempotency-Key was already used with a different request',
                DETAIL = CASE WHEN tenant IS NULL OR r.customer_id IS NOT DISTINCT FROM tenant
                              THEN format('job %s', r.id) ELSE '' END;
        END IF;
    END IF;
    RETURN QUERY SELECT r.created_at = now(), to_jsonb(r) - 'lease_token';
END
$$;
