-- rescue, promote, prune, maintain, and the reporting views.
BEGIN;
SELECT plan(14);
DELETE FROM spool.job_live; DELETE FROM spool.job_archive; DELETE FROM spool.event_log;
DELETE FROM spool.idempotency_keys; DELETE FROM spool.job_dependencies;
DO $$ BEGIN
    PERFORM spool.register_type('t_m', max_attempts => 2, retention => '1 day');
    PERFORM spool.register_worker('wm', '{}');
END $$;
CREATE TEMP TABLE j AS SELECT * FROM spool.submit_many('[{"type":"t_m"},{"type":"t_m"},{"type":"t_m"},{"type":"t_m","run_at":"2999-01-01T00:00:00Z"}]');
CREATE TEMP TABLE c AS SELECT * FROM spool.claim('wm', '{}', 3);
-- job 1: lease expired; job 2: timed out; job 3: lease expired with cancel requested
UPDATE spool.job_live SET lease_expires_at = now() - interval '1 second' WHERE id = (SELECT id FROM c ORDER BY seq LIMIT 1);
UPDATE spool.job_live SET deadline_at = now() - interval '1 second' WHERE id = (SELECT id FROM c ORDER BY seq OFFSET 1 LIMIT 1);
UPDATE spool.job_live SET lease_expires_at = now() - interval '1 second', cancel_requested_at = now()
 WHERE id = (SELECT id FROM c ORDER BY seq OFFSET 2 LIMIT 1);
SELECT is(spool.rescue(), 3, 'rescue takes every expired lease');
SELECT alike((SELECT error FROM spool.jobs WHERE id = (SELECT id FROM c ORDER BY seq LIMIT 1)), 'lease expired%', 'lease expiry recorded');
SELECT is((SELECT status FROM spool.jobs WHERE id = (SELECT id FROM c ORDER BY seq LIMIT 1)), 'failed', 'with attempts left it will retry');
SELECT alike((SELECT error FROM spool.jobs WHERE id = (SELECT id FROM c ORDER BY seq OFFSET 1 LIMIT 1)), 'timed out after%', 'timeout recorded');
SELECT is((SELECT status FROM spool.jobs WHERE id = (SELECT id FROM c ORDER BY seq OFFSET 2 LIMIT 1)), 'cancelled', 'cancel requested: cancelled');
SELECT is(spool.rescue(), 0, 'nothing left to rescue');
-- second expiry exhausts the attempts
UPDATE spool.job_live SET status = 'pending', run_at = now() WHERE status = 'failed';
CREATE TEMP TABLE c2 AS SELECT * FROM spool.claim('wm', '{}', 2);
UPDATE spool.job_live SET lease_expires_at = now() - interval '1 second' WHERE status = 'running';
SELECT is(spool.rescue(), 2, 'rescued again');
SELECT is((SELECT count(*)::int FROM spool.jobs WHERE type = 't_m' AND status = 'dead'), 2, 'dead when attempts are exhausted');
-- promote
UPDATE spool.job_live SET run_at = now() - interval '1 second' WHERE status = 'scheduled';
SELECT is(spool.promote(), 1, 'a due scheduled job is promoted');
SELECT is((SELECT count(*)::int FROM spool.job_live WHERE status = 'pending'), 1, 'it is pending');
-- prune
UPDATE spool.job_archive SET finished_at = now() - interval '2 days' WHERE status = 'dead';
INSERT INTO spool.idempotency_keys (key, job_id) SELECT 'k-' || id, id FROM spool.job_archive WHERE status = 'dead';
SELECT is(spool.prune(), 2, 'finished jobs past retention are pruned');
SELECT is((SELECT count(*)::int FROM spool.idempotency_keys WHERE key LIKE 'k-%'), 0, 'with their idempotency keys');
SELECT is((SELECT count(*)::int FROM spool.job_archive), 1, 'younger finished jobs are kept');
SELECT is((SELECT promoted + rescued + pruned FROM spool.maintain()), 0, 'maintain runs all three');
SELECT * FROM finish();
ROLLBACK;
