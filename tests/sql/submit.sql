-- spool.submit and spool.submit_many: defaults, validation, idempotency, scheduling, order.
BEGIN;
SELECT plan(29);
DELETE FROM spool.job_live; DELETE FROM spool.job_archive; DELETE FROM spool.event_log;
DELETE FROM spool.idempotency_keys;
DO $$ BEGIN
    PERFORM spool.register_type('t_resize', max_attempts => 4, timeout_seconds => 120, priority => 60,
        payload_schema => '{"required":["w"],"properties":{"w":{"type":"integer"},"mode":{"type":["string","null"]}}}');
    PERFORM spool.register_type('t_plain');
END $$;

CREATE TEMP TABLE j1 AS SELECT * FROM spool.submit('t_resize', '{"w":100}');
SELECT is((SELECT status FROM j1), 'pending', 'a job due now is pending');
SELECT is((SELECT priority::int FROM j1), 60, 'priority defaults to the type''s');
SELECT is((SELECT max_attempts FROM j1), 4, 'max_attempts defaults to the type''s');
SELECT is((SELECT timeout_seconds FROM j1), 120, 'timeout defaults to the type''s');
SELECT is((SELECT queue FROM j1), 'default', 'queue defaults to default');
SELECT is((SELECT attempts FROM j1), 0, 'no attempts yet');
SELECT is((SELECT count(*)::int FROM spool.events WHERE job_id = (SELECT id FROM j1) AND kind = 'submitted'), 1,
    'a submitted event is written');

SELECT is((SELECT status FROM spool.submit('t_plain', run_at => now() + interval '1 hour')), 'scheduled',
    'a job with a future run_at is scheduled');
SELECT is((SELECT priority::int FROM spool.submit('t_plain', priority => 7, queue => 'q2', tags => '{a,b}')), 7,
    'explicit priority is kept');

-- Validation: each error names the problem and writes nothing.
CREATE TEMP TABLE before AS SELECT (SELECT count(*) FROM spool.job_live) AS jobs, (SELECT count(*) FROM spool.event_log) AS events;
SELECT throws_ok($$SELECT * FROM spool.submit('nope')$$, 'SP422', 'unknown job type "nope"', 'unknown type');
SELECT throws_ok($$SELECT * FROM spool.submit('t_resize', '{}')$$, 'SP422',
    'type "t_resize": payload is missing required key "w"', 'missing required key');
SELECT throws_ok($$SELECT * FROM spool.submit('t_resize', '{"w":"big"}')$$, 'SP422',
    'type "t_resize": payload key "w" must be integer, got string', 'wrong JSON type');
SELECT throws_ok($$SELECT * FROM spool.submit('t_resize', '{"w":1.5}')$$, 'SP422',
    'type "t_resize": payload key "w" must be integer, got number', 'integer vs number');
SELECT throws_ok($$SELECT * FROM spool.submit('t_plain', priority => 101)$$, 'SP422',
    'priority must be an integer from 0 to 100, got 101', 'priority above range');
SELECT throws_ok($$SELECT * FROM spool.submit_many('{"type":"t_plain"}')$$, 'SP400',
    'jobs must be a JSON array of job objects', 'not an array');
SELECT throws_ok($$SELECT * FROM spool.submit_many('[{"type":"t_plain"}, 5]')$$, 'SP400',
    'jobs[1]: a job must be a JSON object', 'element not an object');
SELECT throws_ok($$SELECT * FROM spool.submit_many('[{"type":"t_plain"}, {"type":"t_plain","run_at":"soonish"}]')$$, 'SP422',
    'jobs[1]: run_at is not a valid timestamp: "soonish"', 'bad run_at');
SELECT throws_ok($$SELECT * FROM spool.submit_many('[{"type":"t_plain","tags":"x"}]')$$, 'SP422',
    'tags must be an array of strings', 'bad tags');
SELECT throws_ok($$SELECT * FROM spool.submit_many('[{"type":"t_plain"},{"type":"t_resize","payload":{}}]')$$, 'SP422',
    'jobs[1]: type "t_resize": payload is missing required key "w"', 'a bad job in a batch names its index');
SELECT is((SELECT count(*) FROM spool.job_live), (SELECT jobs FROM before), 'failed submits wrote no job');
SELECT is((SELECT count(*) FROM spool.event_log), (SELECT events FROM before), 'failed submits wrote no event');

SELECT lives_ok($$SELECT * FROM spool.submit('t_resize', '{"w":2, "mode": null}')$$, 'a type union allows null');

-- Idempotency.
CREATE TEMP TABLE k1 AS SELECT * FROM spool.submit('t_plain', idempotency_key => 'order-1');
SELECT is((SELECT id FROM spool.submit('t_plain', idempotency_key => 'order-1')), (SELECT id FROM k1),
    'the same key returns the existing job');
SELECT isnt((SELECT id FROM spool.submit('t_plain', idempotency_key => 'order-2')), (SELECT id FROM k1),
    'another key makes another job');
SELECT is((SELECT count(DISTINCT id)::int FROM spool.submit_many(
    '[{"type":"t_plain","idempotency_key":"b-1"},{"type":"t_plain","idempotency_key":"b-1"},{"type":"t_plain"}]')), 2,
    'a key repeated inside a batch makes one job');

-- Order: rows come back in input order, seq follows it.
SELECT is((SELECT array_agg(priority::int) FROM spool.submit_many(
    '[{"type":"t_plain","priority":5},{"type":"t_plain","priority":9},{"type":"t_plain","priority":1}]')),
    ARRAY[5, 9, 1], 'rows come back in input order');

-- Auto-registration of unknown types.
UPDATE spool.settings SET value = 'true' WHERE key = 'auto_register_types';
SELECT is((SELECT status FROM spool.submit('t_auto_new')), 'pending', 'auto_register_types registers an unknown type');
SELECT ok(EXISTS (SELECT 1 FROM spool.job_types WHERE name = 't_auto_new'), 'the type is now registered');

-- A large batch in one call.
SELECT is((SELECT count(*)::int FROM spool.submit_many((SELECT jsonb_agg(jsonb_build_object('type', 't_plain', 'payload', jsonb_build_object('n', g))) FROM generate_series(1, 100000) g))),
    100000, '100,000 jobs in one submit_many call');
SELECT * FROM finish();
ROLLBACK;
