-- spool.api_submit_group(bodies jsonb, idempotency_keys text[], request_hashes text[],
--                        tenants text[]) -> TABLE(ord integer, created boolean, job json)
-- Independent POST /v1/jobs requests that spoold groups into one transaction (one commit
-- for many clients). bodies is a JSON array of job objects; the other arrays are parallel
-- (NULL entries: no key, no tenant), and a whole array may be NULL when no request of the
-- group has a key (idempotency_keys, request_hashes) or a tenant (tenants). Each request
-- gets exactly what spool.api_submit would give it alone: tenant as customer_id, the
-- Idempotency-Key with its request hash, the original job for a repeated key. If any
-- request of the group is invalid the whole call fails and changes nothing; spoold then
-- submits the requests one by one, so that only the invalid one gets its error. Rows come
-- back in request order (ord from 1); job is the job as JSON without its lease token.
--
-- Speed (this is the hot path of POST /v1/jobs): a group without keys or tenants is one
-- statement around spool.submit_many, whose rows (in input order) are turned into JSON
-- text as they stream out. The job is written with row_to_json over an explicit column
-- list, several times cheaper than to_jsonb(job) - 'lease_token' (a jsonb object built,
-- sorted and copied twice per row): the column list is every column of spool.jobs but
-- lease_token, and tests/sql/api.sql fails when the two drift apart.
CREATE OR REPLACE FUNCTION spool.api_submit_group(bodies jsonb, idempotency_keys text[],
                                                  request_hashes text[], tenants text[])
RETURNS TABLE (ord integer, created boolean, job json)
LANGUAGE plpgsql VOLATILE
-- Generic plans for this call and what it calls (spool.submit_many): with custom plans the
-- bodies argument made PostgreSQL plan the insert anew on every call.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
    jobs jsonb := bodies;
    bad  integer;
    rows spool.jobs[];
BEGIN
    IF bodies IS NULL OR jsonb_typeof(bodies) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'SP400', MESSAGE = 'bodies must be a JSON array';
    END IF;
    IF tenants IS NOT NULL OR idempotency_keys IS NOT NULL THEN
        -- Two requests of one group with the same key are left to the one-by-one path, where
        -- the second sees the first's job and hash like any later request would.
        SELECT min(i) FILTER (
                   WHERE jsonb_typeof(b.v) <> 'object'
                      OR (tenants[i] IS NOT NULL AND b.v ? 'customer_id'
                          AND b.v->'customer_id' <> to_jsonb(tenants[i]))
                      OR (idempotency_keys[i] IS NOT NULL AND b.v ? 'idempotency_key'
                          AND b.v->'idempotency_key' <> to_jsonb(idempotency_keys[i]))
                      OR (idempotency_keys[i] IS NOT NULL
                          AND (SELECT count(*) FROM unnest(idempotency_keys) k
                                WHERE k = idempotency_keys[i]) > 1)),
               jsonb_agg(CASE WHEN jsonb_typeof(b.v) <> 'object' THEN b.v
                              ELSE b.v || CASE WHEN tenants[i] IS NOT NULL
                                               THEN jsonb_build_object('customer_id', tenants[i])
                                               ELSE '{}' END
                                       || CASE WHEN idempotency_keys[i] IS NOT NULL
                                               THEN jsonb_build_object('idempotency_key', idempotency_keys[i])
                                               ELSE '{}' END END
                         ORDER BY i)
          INTO bad, jobs
          FROM jsonb_array_elements(bodies) WITH ORDINALITY AS b(v, i);
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'SP422',
                MESSAGE = format('request %s of the group needs the one-by-one path', bad);
        END IF;
    END IF;

    IF idempotency_keys IS NULL THEN
        -- No keys: every job is new, and nothing needs checking after the insert.
        RETURN QUERY
        SELECT r.ordinality::integer, true, row_to_json(x)
          FROM spool.submit_many(jobs) WITH ORDINALITY AS r,
               LATERAL (SELECT r.id, r.seq, r.type, r.queue, r.status, r.priority, r.run_at,
                               r.payload, r.result, r.error, r.errors, r.attempts,
                               r.max_attempts, r.timeout_seconds, r.service_required,
                               r.requirements, r.customer_id, r.tags, r.metadata,
                               r.idempotency_key, r.original_job_id, r.progress,
                               r.progress_message, r.worker_id, r.lease_seconds,
                               r.lease_expires_at, r.deadline_at, r.cancel_requested_at,
                               r.cancel_reason, r.pending_parents, r.has_dependents, r.cost,
                               r.created_at, r.started_at, r.finished_at) x;
        RETURN;
    END IF;

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
    SELECT r.ordinality::integer, r.created_at = now(), row_to_json(x)
      FROM unnest(rows) WITH ORDINALITY AS r,
           LATERAL (SELECT r.id, r.seq, r.type, r.queue, r.status, r.priority, r.run_at,
                           r.payload, r.result, r.error, r.errors, r.attempts,
                           r.max_attempts, r.timeout_seconds, r.service_required,
                           r.requirements, r.customer_id, r.tags, r.metadata,
                           r.idempotency_key, r.original_job_id, r.progress,
                           r.progress_message, r.worker_id, r.lease_seconds,
                           r.lease_expires_at, r.deadline_at, r.cancel_requested_at,
                           r.cancel_reason, r.pending_parents, r.has_dependents, r.cost,
                           r.created_at, r.started_at, r.finished_at) x
     ORDER BY r.ordinality;
END
$$;
