-- import-prisma's SQL: spool.import_uuid, import_prepare, import_apply (insert, unchanged,
-- update, conflict, dry run), import_verify, the job_tasks prune trigger, retry_chains.
BEGIN;
SELECT plan(22);
SELECT is((SELECT name FROM spool.register_type('itest_import', retention => '100 years')),
          'itest_import', 'a type to import into');

SELECT is(spool.import_uuid('0F8FAD5B-D9CB-469F-A165-70867728950E'),
          '0f8fad5b-d9cb-469f-a165-70867728950e'::uuid, 'a UUID legacy id is kept');
SELECT is(spool.import_uuid('clx1abc2def3ghi4jkl5mno6'),
          '3a708327-0fef-879b-a438-d5b3b3f470ca'::uuid, 'any other id: the documented UUIDv8');
SELECT isnt(spool.import_uuid('clx1abc2def3ghi4jkl5mno6', 'Task'),
            spool.import_uuid('clx1abc2def3ghi4jkl5mno6'), 'tasks and jobs map apart');
SELECT is(spool.import_uuid(NULL), NULL, 'NULL in, NULL out');

SELECT lives_ok('SELECT spool.import_prepare()', 'import_prepare creates the staging tables');
SELECT lives_ok('SELECT spool.import_prepare()', 'import_prepare can run again');

-- stage: a pending root, a dead retry of it with one task
CREATE TEMP TABLE stage_jobs AS
SELECT * FROM (VALUES
  ('root1', spool.import_uuid('root1'), 'PENDING', 'pending', true, '2025-06-01 00:00:00+00'::timestamptz,
   '{"evaluationId":"e1"}'::jsonb, NULL::jsonb, NULL::text, NULL::jsonb, 0, '{"legacy":{"id":"root1"}}'::jsonb,
   NULL::uuid, NULL::timestamptz, NULL::text, 0.1::numeric, '2025-06-01 00:00:00+00'::timestamptz,
   NULL::timestamptz, NULL::timestamptz, 'sum1'),
  ('retry1', spool.import_uuid('retry1'), 'FAILED', 'dead', false, '2025-06-01 00:10:00+00',
   '{"evaluationId":"e1"}', NULL, 'timeout', NULL, 2, '{"legacy":{"id":"retry1"}}',
   spool.import_uuid('root1'), NULL, NULL, 0.2, '2025-06-01 00:10:00+00', NULL,
   '2025-06-01 00:12:00+00', 'sum2'))
   v(legacy_id, id, legacy_status, status, live, run_at, payload, result, error, errors, attempts,
     metadata, original_job_id, cancel_requested_at, cancel_reason, cost, created_at, started_at,
     finished_at, checksum);
-- in the staging table's column order (a mapped job's COPY line)
CREATE TEMP VIEW stage_rows AS
SELECT id, status, run_at, payload, result, error, errors, attempts, metadata, original_job_id,
       (CASE WHEN status = 'completed' THEN 100 ELSE 0 END)::smallint AS progress,
       cancel_requested_at, cancel_reason, cost, created_at, started_at, finished_at, legacy_id,
       legacy_status, checksum, live
  FROM stage_jobs;
INSERT INTO pg_temp.import_jobs SELECT * FROM stage_rows;
INSERT INTO pg_temp.import_tasks VALUES (spool.import_uuid('t1', 'Task'), spool.import_uuid('retry1'),
  't1', 'grade', 'm', 0.05, 3, 'log', NULL, '2025-06-01 00:11:00+00', NULL);
SELECT is((SELECT row(inserted, updated, unchanged, conflicts, tasks)::text
             FROM spool.import_apply(NULL, 'itest_import', 'retry1', 2, true)),
          '(2,0,0,0,1)', 'dry run: counts only');
SELECT is((SELECT count(*) FROM spool.jobs WHERE type = 'itest_import'), 0::bigint, 'dry run writes nothing');
SELECT is((SELECT row(inserted, updated, unchanged, conflicts, tasks)::text
             FROM spool.import_apply(NULL, 'itest_import', 'retry1', 2)),
          '(2,0,0,0,1)', 'two jobs and a task inserted');
SELECT is((SELECT string_agg(status || '@' || CASE WHEN id IN (SELECT id FROM spool.job_live) THEN 'live' ELSE 'archive' END, ',' ORDER BY status)
             FROM spool.jobs WHERE type = 'itest_import'),
          'dead@archive,pending@live', 'pending goes live, the rest to the archive');
SELECT is((SELECT jobs::int FROM spool.retry_chains WHERE root_id = spool.import_uuid('root1')), 2,
          'retry_chains shows the chain');

-- what the CLI asks before each batch: which ids the target knows, with their checksum
SELECT is((SELECT string_agg(coalesce(checksum, '-') || ':' || in_jobs, ',' ORDER BY checksum)
             FROM spool.import_lookup(ARRAY[spool.import_uuid('root1'), spool.import_uuid('retry1'),
                                            spool.import_uuid('nobody')])),
          'sum1:true,sum2:true', 'import_lookup: known ids with their checksum, unknown ones absent');
SELECT is((SELECT count(*) FROM spool.import_lookup('{}')), 0::bigint, 'import_lookup of nothing');

-- the run row advances with the batch
INSERT INTO spool.import_runs (source, shape, options) VALUES ('test', 'test', '{}');
SELECT lives_ok($$SELECT spool.import_advance((SELECT max(id) FROM spool.import_runs), 'retry1',
                                              2, 1, 0, 1, 0, 3, true)$$,
                'import_advance records a batch');
SELECT is((SELECT position || ' ' || rows_done || ' ' || inserted || ' ' || unchanged || ' ' || tasks
             FROM spool.import_runs WHERE id = (SELECT max(id) FROM spool.import_runs)),
          'retry1 2 1 1 3', 'the position and the counts are recorded');

-- the same batch again: unchanged
TRUNCATE pg_temp.import_jobs, pg_temp.import_tasks;
INSERT INTO pg_temp.import_jobs SELECT * FROM stage_rows;
SELECT is((SELECT unchanged FROM spool.import_apply(NULL, 'itest_import', 'retry1', 2)), 2,
          'same checksums: unchanged');

-- a changed root: updated; once Spool has claimed it: conflict
TRUNCATE pg_temp.import_jobs;
INSERT INTO pg_temp.import_jobs SELECT * FROM stage_rows WHERE legacy_id = 'root1';
UPDATE pg_temp.import_jobs SET checksum = 'sum1b', cost = 0.3;
SELECT is((SELECT updated FROM spool.import_apply(NULL, 'itest_import', 'root1', 1)), 1,
          'changed checksum: updated');
SELECT is((SELECT cost FROM spool.jobs WHERE id = spool.import_uuid('root1')), 0.3, 'the new value is written');
UPDATE spool.job_live SET status = 'running', attempts = 1 WHERE id = spool.import_uuid('root1');
TRUNCATE pg_temp.import_jobs;
INSERT INTO pg_temp.import_jobs SELECT * FROM stage_rows WHERE legacy_id = 'root1';
UPDATE pg_temp.import_jobs SET checksum = 'sum1c';
SELECT is((SELECT conflict_ids FROM spool.import_apply(NULL, 'itest_import', 'root1', 1)), '{root1}'::text[],
          'a job Spool changed since is a conflict, left alone');

-- verify finds a difference
TRUNCATE pg_temp.import_jobs;
INSERT INTO pg_temp.import_jobs SELECT * FROM stage_rows WHERE legacy_id = 'retry1';
UPDATE pg_temp.import_jobs SET error = 'other';
SELECT is((SELECT string_agg(field, ',' ORDER BY field) FROM spool.import_verify('itest_import')),
          'error,tasks', 'import_verify names the fields that differ (the staged batch has no task)');

-- prune takes a job's tasks along
DELETE FROM spool.job_archive WHERE id = spool.import_uuid('retry1');
SELECT is((SELECT count(*) FROM spool.job_tasks WHERE job_id = spool.import_uuid('retry1')), 0::bigint,
          'tasks leave with their job');

SELECT * FROM finish();
ROLLBACK;
