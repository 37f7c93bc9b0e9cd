-- spool.api_submit_many(bodies jsonb, idempotency_keys text[], request_hashes text[],
--                       tenants text[]) -> TABLE(ord integer, created boolean, job jsonb)
-- Independent POST /v1/jobs requests that spoold groups into one transaction (one commit
-- for many clients). bodies is a JSON array of job objects; the other arrays are parallel
-- (NULL entries: no key, no tenant). Each request gets exactly what spool.api_submit would
-- give it alone: tenant as customer_id, the Idempotency-Key with its request hash, the
-- original job for a repeated key. If any request of the group is invalid the whole call
-- fails and changes nothing; spoold then submits the requests one by one, so that only the
-- invalid one gets its error. Rows come back in request order (ord from 1).
CREATE OR REPLACE FUNCTION spool.api_submit_many(bodies jsonb, idempotency_keys text[],
                                                 request_hashes text[], tenants text[])
RETURNS TABLE (ord integer, created boolean, job jsonb)
LANGUAGE plpgsql VOLATILE
-- Generic plans for this call and what it calls (spool.submit_many): with custom plans the
-- bodies argument made PostgreSQL plan the insert anew on every call, ~0.4 ms of a group's
-- ~1.3 ms at 16 jobs (pgbench, one session).
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
    jobs jsonb;
    bad  integer;
    rows spool.jobs[];
BEGIN
    IF bodies IS NULL OR jsonb_typeof(bodies) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'bodies must be a JSON array';
    END IF;
    -- Two requests of one group with the same key are left to the one-by-one path, where
    -- the second sees the first's job and hash like any later request would.
    SELECT min(i) INTO bad
      FROM jsonb_array_elements(bodies) WITH ORDINALITY AS b(v, i)
     WHERE jsonb_typeof(b.v) <> 'object'
        OR (tenants[i] IS NOT NULL AND b.v ? 'customer_id' AND b.v->'customer_id' <> to_jsonb(tenants[i]))
        OR (idempotency_keys[i] IS NOT NULL AND b.v ? 'idempotency_key'
            AND b.v->'idempotency_key' <> to_jsonb(idempotency_keys[i]))
        OR (idempotency_keys[i] IS NOT NULL
            AND (SELECT count(*) FROM unnest(idempotency_keys) k WHERE k = idempotency_keys[i]) > 1);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = format('request %s of the group needs the one-by-one path', bad);
    END IF;
    SELECT jsonb_agg(b.v || CASE WHEN tenants[i] IS NOT NULL THEN jsonb_build_object('customer_id', tenants[i]) ELSE '{}' END
                         || CASE WHEN idempotency_keys[i] IS NOT NULL THEN jsonb_build_object('idempotency_key', idempotency_keys[i]) ELSE '{}' END
                     ORDER BY i)
      INTO jobs
      FROM jsonb_array_elements(bodies) WITH ORDINALITY AS b(v, i);

    -- Separate statements: the keys submit_many records are visible only to the statements
    -- that follow it.
    SELECT array_agg(x) INTO rows FROM spool.submit_many(jobs) x;
    UPDATE spool.idempotency_keys k SET request_hash = coalesce(k.request_hash, request_hashes[u.i])
      FROM unnest(idempotency_keys) WITH ORDINALITY AS u(key, i)
     WHERE u.key IS NOT NULL AND k.key = u.key;
    SELECT min(u.i) INTO bad
      FROM unnest(idempotency_keys) WITH ORDINALITY AS u(key, i)
      JOIN spool.idempotency_keys k ON k.key = u.key
     WHERE k.request_hash IS DISTINCT FROM request_hashes[u.i];
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = 'Idempotency-Key was already used with a different request';
    END IF;
    RETURN QUERY
    SELECT r.ordinality::integer, r.created_at = now(),
           to_jsonb(r) - 'lease_token' - 'ordinality'
      FROM unnest(rows) WITH ORDINALITY AS r
     ORDER BY r.ordinality;
END
$$;
