-- The SQL of spoold's live streams: events_message (the wire JSON), events_after (the hub's
-- reads, with snapshot bounds), events_hole_mark, events_bounds, events_replay (filters, job
-- lifetime bound), events_job_final.
BEGIN;
SELECT plan(28);
SET LOCAL timezone = 'UTC';
DELETE FROM spool.job_live; DELETE FROM spool.job_archive; DELETE FROM spool.event_log;

SELECT is((SELECT row(oldest, newest)::text FROM spool.events_bounds()), '(,)',
    'events_bounds: an empty log has no bounds');

CREATE TEMP TABLE ev (name text PRIMARY KEY, id bigint);
WITH r AS (
    INSERT INTO spool.event_log (job_id, kind, status, type, queue, customer_id, data, at)
    VALUES ('01a20400-0000-7000-8000-00000000000a', 'progress', 'running', 'resize', 'gpu',
            'acme', '{"pct": 50, "note": null, "s": "a\nb"}', '2026-01-02 03:04:05.5+00')
    RETURNING id)
INSERT INTO ev SELECT 'single', id FROM r;
WITH r AS (
    INSERT INTO spool.event_log (job_ids, kind, status, type, queue, at)
    VALUES (ARRAY['01a20400-0000-7000-8000-00000000000a', '01a20400-0000-7000-8000-00000000000b']::uuid[],
            'submitted', 'pending', 'thumb', 'cpu', '2026-01-02 03:04:06+00')
    RETURNING id)
INSERT INTO ev SELECT 'batch', id FROM r;

-- events_message: the exact wire format
SELECT is((SELECT spool.events_message(e) FROM spool.event_log e WHERE id = (SELECT id FROM ev WHERE name = 'single')),
    '{"id":' || (SELECT id FROM ev WHERE name = 'single') || ',"kind":"progress","status":"running",'
    '"job_id":"01a20400-0000-7000-8000-00000000000a","type":"resize","queue":"gpu",'
    '"customer_id":"acme","data":{"s": "a\nb", "pct": 50, "note": null},'
    '"at":"2026-01-02T03:04:05.5+00:00"}',
    'events_message: keys in order, data kept as stored (its nulls too)');
SELECT is((SELECT spool.events_message(e) FROM spool.event_log e WHERE id = (SELECT id FROM ev WHERE name = 'batch')),
    '{"id":' || (SELECT id FROM ev WHERE name = 'batch') || ',"kind":"submitted","status":"pending",'
    '"job_ids":["01a20400-0000-7000-8000-00000000000a","01a20400-0000-7000-8000-00000000000b"],'
    '"type":"thumb","queue":"cpu","customer_id":null,"data":{},"at":"2026-01-02T03:04:06+00:00"}',
    'events_message: a batch row carries job_ids, a missing customer is null, no data is {}');
SELECT ok((SELECT bool_and(strpos(msg, E'\n') = 0) FROM spool.events_after(0, 100)),
    'events_message: one line, whatever the data holds');
SELECT ok((SELECT bool_and((msg::jsonb ->> 'id')::bigint = id) FROM spool.events_after(0, 100)),
    'events_message: valid JSON whose id is the row id');

-- events_after
SELECT is((SELECT array_agg(id ORDER BY id) FROM spool.events_after(0, 100)),
    (SELECT array_agg(id ORDER BY id) FROM ev), 'events_after: every row above the id, in order');
SELECT is((SELECT count(*)::int FROM spool.events_after((SELECT id FROM ev WHERE name = 'single'), 100)), 1,
    'events_after: only ids above after_id');
SELECT is((SELECT count(*)::int FROM spool.events_after(0, 0)), 1, 'events_after: max_rows is at least 1');
SELECT is((SELECT count(*)::int FROM spool.events_after(0, 1)), 1, 'events_after: max_rows bounds the page');
SELECT ok((SELECT bool_and(snap_xmin <= snap_xmax AND snap_xmin IS NOT NULL) FROM spool.events_after(0, 100)),
    'events_after: each row carries the read''s snapshot bounds');
SELECT is((SELECT count(DISTINCT (snap_xmin, snap_xmax))::int FROM spool.events_after(0, 100)), 1,
    'events_after: one snapshot per read');
SELECT ok(spool.events_hole_mark() >= (SELECT snap_xmax FROM spool.events_after(0, 1)),
    'events_hole_mark: a transaction id at or above the xmax of any earlier snapshot');
SELECT is((SELECT job_ids FROM spool.events_after(0, 1)), ARRAY['01a20400-0000-7000-8000-00000000000a']::uuid[],
    'events_after: a single-job row''s job_ids is its job');
SELECT is((SELECT msg FROM spool.events_after(0, 1)),
    (SELECT msg FROM spool.events_replay(0, 1000000, NULL, NULL, NULL, NULL, NULL, 1)),
    'a replayed event is byte-identical to the live one');

-- events_bounds
SELECT is((SELECT row(oldest, newest)::text FROM spool.events_bounds()),
    (SELECT row(min(id), max(id))::text FROM ev), 'events_bounds: oldest and newest id');

-- events_replay (global streams)
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, (SELECT min(id) FROM ev), NULL, NULL, NULL, NULL, NULL, 100)), 1,
    'events_replay: up to upto_id only');
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, 1000000, NULL, 'thumb', NULL, NULL, NULL, 100)), 1,
    'events_replay: type filter');
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, 1000000, NULL, NULL, 'gpu', 'running', NULL, 100)), 1,
    'events_replay: queue and status filters');
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, 1000000, NULL, NULL, NULL, NULL, 'acme', 100)), 1,
    'events_replay: a tenant sees only its customer''s rows');
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, 1000000, NULL, NULL, NULL, NULL, NULL, 1)), 1,
    'events_replay: max_rows bounds the page');

-- events_replay (a job's stream): its own rows and the batch rows naming it, in its lifetime
CREATE TEMP TABLE reg AS SELECT spool.register_type('t_events');
CREATE TEMP TABLE j AS SELECT id FROM spool.submit('t_events', customer_id => 'acme');
INSERT INTO spool.event_log (job_ids, kind, status, type, customer_id)
    SELECT ARRAY[gen_random_uuid(), id], 'claimed', 'running', 't_events', 'acme' FROM j;
INSERT INTO spool.event_log (job_id, kind, status, type, customer_id, at)
    SELECT id, 'ancient', 'running', 't_events', 'acme', now() - interval '1 day' FROM j;
SELECT is((SELECT array_agg(kind ORDER BY id) FROM spool.events_replay(0, 1000000, (SELECT id FROM j), NULL, NULL, NULL, NULL, 100)),
    ARRAY['submitted', 'claimed'],
    'events_replay: a job''s rows, batch rows included, within its lifetime');
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, 1000000, (SELECT id FROM j), NULL, NULL, NULL, 'globex', 100)), 0,
    'events_replay: another tenant sees none of the job''s rows');
SELECT is((SELECT count(*)::int FROM spool.events_replay(0, 1000000, gen_random_uuid(), NULL, NULL, NULL, NULL, 100)), 0,
    'events_replay: an unknown job has no rows');
SELECT is((SELECT array_agg(kind ORDER BY id) FROM spool.events_replay(
              (SELECT min(id) FROM spool.events_replay(0, 1000000, (SELECT id FROM j), NULL, NULL, NULL, NULL, 100)),
              1000000, (SELECT id FROM j), NULL, NULL, NULL, NULL, 100)),
    ARRAY['claimed'], 'events_replay: a job''s rows after an id');

-- events_job_final: the event that ended the job
SELECT is(spool.events_job_final((SELECT id FROM j), NULL), NULL, 'events_job_final: none while the job runs');
CREATE TEMP TABLE cancelled AS SELECT spool.cancel((SELECT id FROM j), 'test');
SELECT is(spool.events_job_final((SELECT id FROM j), 'acme'),
    (SELECT max(id) FROM spool.event_log WHERE kind = 'cancelled'),
    'events_job_final: the id of the job''s final event');
SELECT is(spool.events_job_final((SELECT id FROM j), 'globex'), NULL,
    'events_job_final: nothing for another tenant');
SELECT is(spool.events_job_final(gen_random_uuid(), NULL), NULL, 'events_job_final: nothing for an unknown job');

SELECT * FROM finish();
ROLLBACK;
