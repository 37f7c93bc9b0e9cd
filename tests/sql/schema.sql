-- The schema: tables, views, indexes and functions that the rest of Spool relies on.
BEGIN;
SELECT plan(23);
SELECT has_schema('spool');
SELECT has_table('spool', t, 'table spool.' || t) FROM unnest(ARRAY['job_live', 'job_archive', 'event_log',
    'job_types', 'workers', 'settings', 'idempotency_keys', 'job_dependencies', 'api_tokens',
    'schema_migrations']) t;
SELECT has_view('spool', v, 'view spool.' || v) FROM unnest(ARRAY['jobs', 'events', 'queue_depth',
    'throughput', 'recent_failures', 'worker_health', 'latency']) v;
SELECT has_index('spool', 'job_live', 'job_live_claim', 'claim index');
SELECT has_index('spool', 'job_live', 'job_live_expiry', 'rescue index');
SELECT is((SELECT count(*)::int FROM spool.schema_migrations WHERE kind = 'migration' AND name = '0001_init.sql'), 1, '0001_init recorded');
SELECT ok((SELECT count(*) FROM spool.schema_migrations WHERE kind = 'function') > 20, 'functions recorded with checksums');
SELECT is((SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'spool.event_log'::regclass
            AND attname = 'job_ids'), 'e', 'event_log.job_ids stored out of line, uncompressed');
SELECT * FROM finish();
ROLLBACK;
