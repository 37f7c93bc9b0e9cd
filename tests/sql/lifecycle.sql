-- complete, complete_many, complete_and_claim, fail, release, progress, heartbeat, cancel,
-- retry: fencing of stale leases, backoff bounds, error history, cancellation, lineage.
BEGIN;
SELECT plan(37);
DELETE FROM spool.job_live; DELETE FROM spool.job_archive; DELETE FROM spool.event_log;
DELETE FROM spool.idempotency_keys; DELETE FROM spool.job_dependencies;
DO $$ BEGIN
    PERFORM spool.register_type('t_l', max_attempts => 3, backoff_base_seconds => 10, backoff_max_seconds => 25);
    PERFORM spool.register_worker('w1', '{}');
END $$;

-- complete + fencing
CREATE TEMP TABLE a AS SELECT * FROM spool.submit('t_l', '{"n":1}');
CREATE TEMP TABLE a1 AS SELECT * FROM spool.claim('w1', '{}', 1);
-- The lease expires and another worker claims the job again.
UPDATE spool.job_live SET status = 'pending' WHERE id = (SELECT id FROM a);
CREATE TEMP TABLE a2 AS SELECT * FROM spool.claim('w2', '{}', 1);
SELECT throws_like(format($$SELECT spool.complete(%L, %L, '{"late":true}')$$, (SELECT id FROM a1), (SELECT lease_token FROM a1)),
    '%is not current%', 'a stale lease cannot complete the job');
SELECT throws_ok(format($$SELECT spool.fail(%L, %L, 'x')$$, (SELECT id FROM a1), (SELECT lease_token FROM a1)),
    'SP410', NULL, 'nor fail it');
SELECT is((SELECT status FROM spool.jobs WHERE id = (SELECT id FROM a)), 'running', 'the refused calls changed nothing');
SELECT is((SELECT status FROM spool.complete((SELECT id FROM a2), (SELECT lease_token FROM a2), '{"ok":1}')), 'completed',
    'the current lease completes it');
SELECT is((SELECT result FROM spool.job_archive WHERE id = (SELECT id FROM a)), '{"ok":1}'::jsonb, 'result stored in the archive');
SELECT ok((SELECT finished_at IS NOT NULL AND progress = 100 FROM spool.jobs WHERE id = (SELECT id FROM a)), 'finished_at and progress set');
SELECT ok(NOT EXISTS (SELECT 1 FROM spool.job_live WHERE id = (SELECT id FROM a)), 'no longer live');
SELECT throws_ok(format($$SELECT spool.complete(%L, %L)$$, (SELECT id FROM a2), (SELECT lease_token FROM a2)), 'SP410', NULL,
    'completing twice is refused');

-- complete_many and complete_and_claim
CREATE TEMP TABLE b AS SELECT * FROM spool.submit_many('[{"type":"t_l"},{"type":"t_l"},{"type":"t_l"}]');
CREATE TEMP TABLE b1 AS SELECT * FROM spool.claim('w1', '{}', 2);
SELECT is((SELECT array_agg(accepted) FROM spool.complete_many(
            (SELECT array_agg(id) FROM b1) || (SELECT id FROM b1 LIMIT 1),
            (SELECT array_agg(lease_token) FROM b1) || gen_random_uuid(), NULL)),
    ARRAY[true, true, false], 'complete_many accepts current leases and reports the stale one');
CREATE TEMP TABLE b2 AS SELECT * FROM spool.claim('w1', '{}', 1);
SELECT is((SELECT count(*)::int FROM spool.complete_and_claim('w1', ARRAY[(SELECT id FROM b2), gen_random_uuid()],
           ARRAY[(SELECT lease_token FROM b2), gen_random_uuid()], NULL, '{}', 5)), 0,
    'complete_and_claim completes, warns about the refused one, and claims what is left');
SELECT is((SELECT status FROM spool.jobs WHERE id = (SELECT id FROM b2)), 'completed', 'complete_and_claim completed it');
SELECT is((SELECT jobs_completed::int FROM spool.workers WHERE id = 'w1'), 3, 'the worker''s completed count');

-- fail: backoff within bounds, history, dead after max_attempts
CREATE TEMP TABLE f AS SELECT * FROM spool.submit('t_l');
CREATE TEMP TABLE f1 AS SELECT * FROM spool.claim('w1', '{}', 1);
CREATE TEMP TABLE f1r AS SELECT * FROM spool.fail((SELECT id FROM f1), (SELECT lease_token FROM f1), 'boom 1');
SELECT is((SELECT status FROM f1r), 'failed', 'a retryable failure with attempts left is failed (will retry)');
SELECT ok((SELECT run_at - now() BETWEEN interval '7.5 seconds' AND interval '10 seconds' FROM f1r),
    'first backoff is base * [0.75, 1]');
UPDATE spool.job_live SET run_at = now() WHERE id = (SELECT id FROM f);
SELECT is(spool.promote(), 1, 'promote makes it pending again');
CREATE TEMP TABLE f2 AS SELECT * FROM spool.claim('w1', '{}', 1);
CREATE TEMP TABLE f2r AS SELECT * FROM spool.fail((SELECT id FROM f2), (SELECT lease_token FROM f2), 'boom 2');
SELECT ok((SELECT run_at - now() BETWEEN interval '15 seconds' AND interval '20 seconds' FROM f2r),
    'second backoff doubles');
UPDATE spool.job_live SET run_at = now(), status = 'pending' WHERE id = (SELECT id FROM f);
CREATE TEMP TABLE f3 AS SELECT * FROM spool.claim('w1', '{}', 1);
CREATE TEMP TABLE f3r AS SELECT * FROM spool.fail((SELECT id FROM f3), (SELECT lease_token FROM f3), 'boom 3');
SELECT is((SELECT status FROM f3r), 'dead', 'dead after max_attempts');
SELECT is((SELECT jsonb_array_length(errors) FROM f3r), 3, 'every error kept in the history');
SELECT is((SELECT error FROM f3r), 'boom 3', 'last error');
SELECT is((SELECT count(*)::int FROM spool.recent_failures WHERE job_id = (SELECT id FROM f)), 3, 'recent_failures lists them');
CREATE TEMP TABLE g AS SELECT * FROM spool.submit('t_l');
CREATE TEMP TABLE g1 AS SELECT * FROM spool.claim('w1', '{}', 1);
SELECT is((SELECT status FROM spool.fail((SELECT id FROM g1), (SELECT lease_token FROM g1), 'bad input', retryable => false)),
    'dead', 'a non-retryable failure is dead at once');

-- release and progress
CREATE TEMP TABLE r AS SELECT * FROM spool.submit('t_l');
CREATE TEMP TABLE r1 AS SELECT * FROM spool.claim('w1', '{}', 1);
SELECT is((SELECT progress::int FROM spool.progress((SELECT id FROM r1), (SELECT lease_token FROM r1), 40, 'step 2/5')), 40, 'progress recorded');
SELECT is((SELECT data->>'message' FROM spool.events WHERE job_id = (SELECT id FROM r) AND kind = 'progress'), 'step 2/5', 'progress event');
SELECT throws_ok(format($$SELECT spool.progress(%L, %L, 101)$$, (SELECT id FROM r1), (SELECT lease_token FROM r1)), 'SP422', NULL, 'progress above 100');
CREATE TEMP TABLE r2 AS SELECT * FROM spool.release((SELECT id FROM r1), (SELECT lease_token FROM r1));
SELECT ok((SELECT status = 'pending' AND attempts = 0 AND lease_token IS NULL FROM r2), 'release: pending again, attempt not counted');

-- heartbeat and cancel of a running job
CREATE TEMP TABLE h1 AS SELECT * FROM spool.claim('w1', '{}', 1, lease_seconds => 30);
UPDATE spool.job_live SET lease_expires_at = now() + interval '1 second' WHERE id = (SELECT id FROM h1);
SELECT is((SELECT count(*)::int FROM spool.heartbeat('w1', ARRAY[(SELECT lease_token FROM h1)])), 0, 'nothing to stop');
SELECT is((SELECT lease_expires_at FROM spool.job_live WHERE id = (SELECT id FROM h1)), now() + interval '30 seconds', 'lease extended');
SELECT is((SELECT status FROM spool.cancel((SELECT id FROM h1), 'user asked')), 'running', 'cancel of a running job requests cancellation');
SELECT is((SELECT reason FROM spool.heartbeat('w1', ARRAY[(SELECT lease_token FROM h1)])), 'user asked', 'heartbeat reports it');
SELECT is((SELECT reason FROM spool.heartbeat('w1', ARRAY[gen_random_uuid()])), 'lease lost', 'an unknown token is a lost lease');
SELECT is((SELECT status FROM spool.fail((SELECT id FROM h1), (SELECT lease_token FROM h1), 'stopped')), 'cancelled', 'the worker stops: cancelled');

-- cancel of queued jobs, errors, retry lineage
CREATE TEMP TABLE x AS SELECT * FROM spool.submit('t_l', run_at => now() + interval '1 day');
SELECT is((SELECT status FROM spool.cancel((SELECT id FROM x))), 'cancelled', 'a scheduled job is cancelled at once');
SELECT throws_ok(format($$SELECT spool.cancel(%L)$$, (SELECT id FROM x)), 'SP409', NULL, 'cancelling a finished job is a conflict');
SELECT throws_ok($$SELECT spool.cancel('00000000-0000-7000-8000-000000000000')$$, 'SP404', NULL, 'unknown job');
CREATE TEMP TABLE y1 AS SELECT * FROM spool.retry((SELECT id FROM f));
CREATE TEMP TABLE y2 AS SELECT * FROM spool.retry((SELECT id FROM x));
SELECT ok((SELECT status = 'pending' AND original_job_id = (SELECT id FROM f) AND attempts = 0 FROM y1), 'retry of a dead job: a new pending job linked to it');
DO $$ BEGIN PERFORM spool.cancel((SELECT id FROM y1)); END $$;
SELECT is((SELECT original_job_id FROM spool.retry((SELECT id FROM y1))), (SELECT id FROM f), 'a retry of a retry points at the root');
SELECT throws_ok(format($$SELECT spool.retry(%L)$$, (SELECT id FROM a)), 'SP409', NULL, 'a completed job cannot be retried');
SELECT * FROM finish();
ROLLBACK;
