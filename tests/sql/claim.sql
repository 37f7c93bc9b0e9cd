-- spool.claim: order, scheduling, batch size, leases, events, matching that never blocks.
BEGIN;
SELECT plan(16);
DELETE FROM spool.job_live; DELETE FROM spool.job_archive; DELETE FROM spool.event_log;
DELETE FROM spool.idempotency_keys; DELETE FROM spool.job_dependencies;
DO $$ BEGIN PERFORM spool.register_type('t_c'); END $$;
CREATE TEMP TABLE s AS SELECT * FROM spool.submit_many('[
  {"type":"t_c","priority":10,"payload":{"n":1}},
  {"type":"t_c","priority":90,"payload":{"n":2}},
  {"type":"t_c","priority":10,"payload":{"n":3}},
  {"type":"t_c","priority":90,"payload":{"n":4}},
  {"type":"t_c","priority":99,"payload":{"n":5},"run_at":"2999-01-01T00:00:00Z"}]');
CREATE TEMP TABLE c1 AS SELECT * FROM spool.claim(worker_id => 'w1', capabilities => '{}', max_jobs => 3);
SELECT is((SELECT array_agg((payload->>'n')::int ORDER BY priority DESC, seq) FROM c1), ARRAY[2, 4, 1],
    'highest priority first, FIFO within a priority, max_jobs respected');
SELECT is((SELECT count(*)::int FROM c1 WHERE status = 'running' AND lease_token IS NOT NULL AND attempts = 1
           AND worker_id = 'w1' AND lease_expires_at > now() AND deadline_at > now()), 3,
    'claimed jobs are running with a lease, attempt 1');
SELECT is((SELECT count(DISTINCT lease_token)::int FROM c1), 3, 'each claim has its own lease token');
SELECT is((SELECT count(*)::int FROM spool.events WHERE kind = 'claimed' AND job_id IN (SELECT id FROM c1)), 3,
    'a claimed event per job');
CREATE TEMP TABLE c2 AS SELECT * FROM spool.claim('w2', '{}', 10);
SELECT is((SELECT array_agg((payload->>'n')::int) FROM c2), ARRAY[3], 'a scheduled job is not claimed before its run_at');
SELECT is((SELECT count(*)::int FROM spool.claim('w2', '{}', 10)), 0, 'nothing left to claim');
SELECT throws_ok($$SELECT * FROM spool.claim('w1', '{}', 0)$$, 'SP422', NULL, 'max_jobs must be positive');
SELECT throws_ok($$SELECT * FROM spool.claim('w1', '[]', 1)$$, 'SP400', 'capabilities must be a JSON object', 'capabilities must be an object');

-- Matching: jobs nobody here can run do not block the ones behind them.
DELETE FROM spool.job_live;
SELECT ok(count(*) = 5, 'jobs submitted') FROM spool.submit_many('[
  {"type":"t_c","priority":90,"service_required":"comfyui","payload":{"n":1}},
  {"type":"t_c","priority":90,"requirements":{"hardware":{"gpu_memory_gb":80}},"payload":{"n":2}},
  {"type":"t_c","priority":50,"payload":{"n":3}},
  {"type":"t_c","priority":50,"service_required":"openai","payload":{"n":4}},
  {"type":"t_c","priority":10,"service_required":"comfyui","requirements":{"models":["sdxl"]},"payload":{"n":5}}]');
SELECT is((SELECT array_agg((payload->>'n')::int) FROM spool.claim('plain', '{}', 10)), ARRAY[3],
    'a worker with no services takes only jobs that need none, skipping the rest');
SELECT is((SELECT array_agg((payload->>'n')::int) FROM spool.claim('oa', '{"services":["openai"]}', 10)), ARRAY[4],
    'a service worker takes its service''s jobs');
SELECT is((SELECT array_agg((payload->>'n')::int) FROM spool.claim('cf', '{"services":["comfyui"],"models":{"comfyui":["flux"]},"hardware":{"gpu_memory_gb":24}}', 10)),
    ARRAY[1], 'models and hardware minimums are enforced');
SELECT is((SELECT count(*)::int FROM spool.job_live WHERE status = 'pending'), 2, 'unmatched jobs stay pending');

-- NULL capabilities use the registered ones.
DO $$ BEGIN PERFORM spool.register_worker('gpu1', '{"services":["comfyui"],"models":{"comfyui":["sdxl"]},"hardware":{"gpu_memory_gb":80}}'); END $$;
SELECT is((SELECT count(*)::int FROM spool.claim('small', '{"hardware":{"gpu_memory_gb":24}}', 10)), 0,
    'hardware minimum not met: nothing claimed');
SELECT is((SELECT array_agg((payload->>'n')::int ORDER BY priority DESC) FROM spool.claim('gpu1', NULL, 10)), ARRAY[2, 5],
    'NULL capabilities mean the registered capabilities');
SELECT is((SELECT count(*)::int FROM spool.job_live WHERE status = 'pending'), 0, 'all claimed in the end');
SELECT * FROM finish();
ROLLBACK;
