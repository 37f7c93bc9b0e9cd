-- Dependencies: blocked until every parent completed; dead or cancelled parents cancel the
-- dependents (cascading); unknown parents and cycles are rejected at submit.
BEGIN;
SELECT plan(12);
DELETE FROM spool.job_live; DELETE FROM spool.job_archive; DELETE FROM spool.event_log;
DELETE FROM spool.idempotency_keys; DELETE FROM spool.job_dependencies;
DO $$ BEGIN PERFORM spool.register_type('t_d'); END $$;
CREATE TEMP TABLE p AS SELECT * FROM spool.submit_many('[
  {"id":"00000000-0000-7000-8000-0000000000a1","type":"t_d"},
  {"id":"00000000-0000-7000-8000-0000000000a2","type":"t_d"},
  {"id":"00000000-0000-7000-8000-0000000000b1","type":"t_d","depends_on":["00000000-0000-7000-8000-0000000000a1","00000000-0000-7000-8000-0000000000a2"]},
  {"id":"00000000-0000-7000-8000-0000000000c1","type":"t_d","depends_on":["00000000-0000-7000-8000-0000000000b1"]}]');
SELECT is((SELECT status FROM p WHERE id = '00000000-0000-7000-8000-0000000000b1'), 'blocked', 'a job with unfinished parents is blocked');
SELECT is((SELECT array_agg(id ORDER BY id) FROM spool.claim('w', '{}', 10)),
    ARRAY['00000000-0000-7000-8000-0000000000a1'::uuid, '00000000-0000-7000-8000-0000000000a2'], 'blocked jobs are not claimed');
SELECT is((SELECT status FROM spool.complete('00000000-0000-7000-8000-0000000000a1',
    (SELECT lease_token FROM spool.job_live WHERE id = '00000000-0000-7000-8000-0000000000a1'))), 'completed', 'first parent completes');
SELECT is((SELECT status FROM spool.jobs WHERE id = '00000000-0000-7000-8000-0000000000b1'), 'blocked', 'still blocked on the second');
DO $$ BEGIN PERFORM spool.complete('00000000-0000-7000-8000-0000000000a2',
    (SELECT lease_token FROM spool.job_live WHERE id = '00000000-0000-7000-8000-0000000000a2')); END $$;
SELECT is((SELECT status FROM spool.jobs WHERE id = '00000000-0000-7000-8000-0000000000b1'), 'pending', 'unblocked when every parent completed');
SELECT is((SELECT status FROM spool.submit('t_d', depends_on => ARRAY['00000000-0000-7000-8000-0000000000a1'::uuid])), 'pending',
    'a parent completed earlier counts as done');
-- a dead parent cancels its dependents, and theirs
CREATE TEMP TABLE b AS SELECT * FROM spool.claim('w', '{}', 1);
DO $$ BEGIN PERFORM spool.fail((SELECT id FROM b), (SELECT lease_token FROM b), 'fatal', retryable => false); END $$;
SELECT is((SELECT status || ': ' || cancel_reason FROM spool.jobs WHERE id = '00000000-0000-7000-8000-0000000000c1'),
    'cancelled: dependency 00000000-0000-7000-8000-0000000000b1 ended dead', 'a dead parent cancels its dependent with a reason');
CREATE TEMP TABLE q AS SELECT * FROM spool.submit('t_d');
CREATE TEMP TABLE q1 AS SELECT * FROM spool.submit('t_d', depends_on => ARRAY[(SELECT id FROM q)]);
CREATE TEMP TABLE q2 AS SELECT * FROM spool.submit('t_d', depends_on => ARRAY[(SELECT id FROM q1)]);
DO $$ BEGIN PERFORM spool.cancel((SELECT id FROM q)); END $$;
SELECT is((SELECT array_agg(status) FROM spool.jobs WHERE id IN ((SELECT id FROM q1), (SELECT id FROM q2))), ARRAY['cancelled', 'cancelled'],
    'cancelling a parent cascades to grandchildren');
SELECT throws_ok($$SELECT * FROM spool.submit('t_d', depends_on => ARRAY['00000000-0000-7000-8000-00000000dead'::uuid])$$, 'SP422',
    'jobs[0]: unknown dependency 00000000-0000-7000-8000-00000000dead', 'unknown parent rejected');
SELECT throws_like(format($$SELECT * FROM spool.submit('t_d', depends_on => ARRAY[%L::uuid])$$, (SELECT id FROM q)),
    '%is cancelled and will never complete%', 'a cancelled parent is rejected');
SELECT throws_like($$SELECT * FROM spool.submit_many('[
  {"id":"00000000-0000-7000-8000-0000000000e1","type":"t_d","depends_on":["00000000-0000-7000-8000-0000000000e2"]},
  {"id":"00000000-0000-7000-8000-0000000000e2","type":"t_d","depends_on":["00000000-0000-7000-8000-0000000000e1"]}]')$$,
    'dependency cycle%', 'a cycle inside a batch is rejected');
SELECT throws_like($$SELECT * FROM spool.submit_many('[{"id":"00000000-0000-7000-8000-0000000000f1","type":"t_d","depends_on":["00000000-0000-7000-8000-0000000000f1"]}]')$$,
    'dependency cycle%', 'a job cannot depend on itself');
SELECT * FROM finish();
ROLLBACK;
