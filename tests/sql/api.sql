-- The REST API's SQL: tokens, api_submit (tenant, idempotency with request hashes),
-- api_submit_group, api_list_jobs keyset pages, events_after / events_replay, submit_one.
BEGIN;
SELECT plan(33);
DELETE FROM spool.job_live; DELETE FROM spool.job_archive; DELETE FROM spool.event_log;
DELETE FROM spool.idempotency_keys; DELETE FROM spool.api_tokens;
SELECT spool.register_type('t_api', payload_schema => '{"required":["n"],"properties":{"n":{"type":"integer"}}}');

-- tokens
CREATE TEMP TABLE tok AS SELECT spool.token_create('ci', 'client', 'acme', repeat('ab', 32)) AS id;
SELECT is((SELECT role || '/' || tenant FROM spool.token_lookup(repeat('ab', 32))), 'client/acme',
    'a token is found by its hash');
SELECT is((SELECT count(*)::int FROM spool.token_lookup(repeat('cd', 32))), 0, 'an unknown hash finds nothing');
SELECT throws_ok($$SELECT spool.token_create('x', 'root', NULL, repeat('ef', 32))$$, 'SP422', NULL, 'bad role refused');
SELECT throws_ok($$SELECT spool.token_create('x', 'admin', NULL, 'nothex')$$, 'SP422', NULL, 'bad hash refused');
SELECT is((SELECT count(*)::int FROM spool.token_revoke('ci')), 1, 'revoke by name');
SELECT is((SELECT count(*)::int FROM spool.token_lookup(repeat('ab', 32))), 0, 'a revoked token is not found');
SELECT throws_ok($$SELECT spool.token_revoke('ci')$$, 'SP404', NULL, 'revoking twice is SP404');
SELECT ok((SELECT revoked_at IS NOT NULL FROM spool.token_list() WHERE name = 'ci'), 'token_list shows revocation');

-- api_submit
CREATE TEMP TABLE a1 AS SELECT * FROM spool.api_submit('{"type":"t_api","payload":{"n":1}}', 'k1', 'h1', 'acme');
SELECT ok((SELECT created FROM a1), 'first submit creates');
SELECT is((SELECT job->>'customer_id' FROM a1), 'acme', 'the tenant becomes customer_id');
SELECT ok((SELECT NOT (job ? 'lease_token') FROM a1), 'no lease token in API output');
SELECT is((SELECT job->>'id' FROM spool.api_submit('{"type":"t_api","payload":{"n":1}}', 'k1', 'h1', 'acme')),
          (SELECT job->>'id' FROM a1), 'same key and request: the same job');
SELECT throws_ok($$SELECT * FROM spool.api_submit('{"type":"t_api","payload":{"n":2}}', 'k1', 'h2', 'acme')$$,
    'SP422', 'Idempotency-Key was already used with a different request', 'same key, other request');
CREATE FUNCTION pg_temp.detail_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE d text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END
$f$;
SELECT is(pg_temp.detail_of($$SELECT * FROM spool.api_submit('{"type":"t_api","payload":{"n":2}}', 'k1', 'h2', 'acme')$$),
    'job ' || (SELECT job->>'id' FROM a1), 'a reused key names the original job to its own tenant');
SELECT is(pg_temp.detail_of($$SELECT * FROM spool.api_submit('{"type":"t_api","payload":{"n":1}}', 'k1', 'h3', 'globex')$$),
    '', 'a reused key does not name another tenant''s job');
SELECT throws_ok($$SELECT * FROM spool.api_submit('{"type":"t_api","payload":{"n":1},"customer_id":"globex"}', NULL, NULL, 'acme')$$,
    'SP422', NULL, 'another tenant''s customer_id is refused');
SELECT throws_ok($$SELECT * FROM spool.api_submit('{"type":"t_api","payload":{"n":"one"}}', NULL, NULL, NULL)$$,
    'SP422', NULL, 'payload schema enforced on the single-job path');
SELECT throws_ok($$SELECT * FROM spool.api_submit('[1]', NULL, NULL, NULL)$$, 'SP400', NULL, 'not an object');
SELECT is((SELECT job->>'status' FROM spool.api_submit('{"type":"t_api","payload":{"n":3},"run_at":"2999-01-01T00:00:00Z"}', NULL, NULL, NULL)),
    'scheduled', 'run_at goes through submit_many and schedules');
SELECT is((SELECT job->'payload' FROM spool.api_submit('{"type":"t_api","payload":{"n":4,"x":null}}', NULL, NULL, NULL)),
    '{"n":4,"x":null}'::jsonb, 'payload nulls are kept');

-- api_submit_group
CREATE TEMP TABLE m AS SELECT * FROM spool.api_submit_group(
    '[{"type":"t_api","payload":{"n":5}},{"type":"t_api","payload":{"n":6}},{"type":"t_api","payload":{"n":1}}]',
    ARRAY[NULL, 'k2', 'k1'], ARRAY[NULL, 'h9', 'h1'], ARRAY[NULL, NULL, 'acme']);
-- (created compares created_at with now(), so inside this one test transaction only the
-- new jobs can be checked; spoold's integration test checks 201 vs 200.)
SELECT is((SELECT string_agg(ord || ':' || created, ',' ORDER BY ord) FROM m WHERE ord < 3), '1:true,2:true',
    'a group: new jobs are created, in request order');
SELECT is((SELECT job->>'id' FROM m WHERE ord = 3), (SELECT job->>'id' FROM a1), 'the repeated key maps to the original');
SELECT throws_ok($$SELECT * FROM spool.api_submit_group('[{"type":"t_api","payload":{"n":1}},{"type":"nope"}]',
    ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::text[])$$, 'SP422', NULL,
    'an invalid request fails the group (spoold then goes one by one)');
CREATE TEMP TABLE m2 AS SELECT * FROM spool.api_submit_group(
    '[{"type":"t_api","payload":{"n":7}},{"type":"t_api","payload":{"n":8},"queue":"q2"}]', NULL, NULL, NULL);
SELECT is((SELECT string_agg(ord || ':' || created || ':' || (job->'payload'->>'n') || ':' || (job->>'queue'), ',' ORDER BY ord) FROM m2),
    '1:true:7:default,2:true:8:q2', 'no keys, no tenants (NULL arrays): one row per request, in order');
SELECT is((SELECT array_agg(k ORDER BY k) FROM m2, json_object_keys(m2.job) k WHERE m2.ord = 1),
    (SELECT array_agg(attname::text ORDER BY attname::text) FROM pg_attribute
      WHERE attrelid = 'spool.jobs'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'lease_token'),
    'the job as JSON has every column of spool.jobs but lease_token');
SELECT is((SELECT job::jsonb FROM m2 WHERE ord = 2),
    (SELECT to_jsonb(j) - 'lease_token' FROM spool.jobs j WHERE j.id = (SELECT (job->>'id')::uuid FROM m2 WHERE ord = 2)),
    'the job as JSON is the stored job');
SELECT is((SELECT job->>'customer_id' FROM spool.api_submit_group('[{"type":"t_api","payload":{"n":9}}]', NULL, NULL, ARRAY['acme'])),
    'acme', 'a tenant without keys becomes customer_id');
SELECT throws_ok($$SELECT * FROM spool.api_submit_group('[{"type":"t_api","payload":{"n":1},"customer_id":"globex"}]', NULL, NULL, ARRAY['acme'])$$,
    'SP422', NULL, 'another tenant''s customer_id fails the group');

-- list pages
SELECT is(jsonb_array_length(spool.api_list_jobs(type => 't_api', lim => 2)->'jobs'), 2, 'a page holds lim jobs');
SELECT ok((SELECT (p->'jobs'->0->>'id')::uuid < ((spool.api_list_jobs(type => 't_api', lim => 1))->'jobs'->0->>'id')::uuid
             FROM (SELECT spool.api_list_jobs(type => 't_api', lim => 1,
                       after => ((spool.api_list_jobs(type => 't_api', lim => 1))->>'next_cursor')::uuid) AS p) x),
    'the next page starts below the cursor');
SELECT throws_ok($$SELECT spool.api_list_jobs(lim => 0)$$, 'SP422', NULL, 'limit bounds');

-- events
SELECT ok((SELECT count(*) > 0 AND bool_and(msg::jsonb ? 'kind') FROM spool.events_after(0, 100)),
    'events_after returns formatted rows');
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, 1000000000, ((SELECT job->>'id' FROM a1))::uuid, NULL, NULL, NULL, 'acme', 100)),
    1, 'events_replay filters by job and tenant');
SELECT * FROM finish();
ROLLBACK;
