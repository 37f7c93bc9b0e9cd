-- 0001_init: the spool schema.
--
-- Layout, chosen for the claim path:
--   job_live     jobs that can still change: blocked, scheduled, pending, running, failed.
--                Small and hot; partial indexes per status; fillfactor leaves room for HOT
--                updates (progress, heartbeats of unindexed columns).
--   job_archive  jobs that reached an end: completed, dead, cancelled. Insert-mostly; pruned
--                per type retention. A finished job is moved (DELETE + INSERT in one
--                statement), so the claim index never carries finished rows.
--   jobs         the view psql users query: live UNION ALL archive, same columns.
--   events       append-only, bigint-sequenced log of every state change and progress update;
--                xid records the writing transaction so readers can wait for gaps to close.
-- Never edit this file once landed: add 0002_… instead.

CREATE SCHEMA IF NOT EXISTS spool;

CREATE TABLE spool.settings (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    description text
);

INSERT INTO spool.settings (key, value, description) VALUES
    ('auto_register_types', 'false',
     'submit of an unknown type registers it with default settings instead of failing'),
    ('max_batch_jobs', '1000000',
     'largest number of jobs accepted by one submit_many call'),
    ('max_claim_batch', '10000',
     'largest max_jobs accepted by one claim call'),
    ('events_retention', '"7 days"',
     'events older than this are pruned by spool.prune()'),
    ('prune_batch', '50000',
     'rows removed per spool.prune() call, so that pruning never holds long locks');

CREATE TABLE spool.job_types (
    name                 text PRIMARY KEY
                         CHECK (name ~ '^[A-Za-z0-9_.:-]{1,128}$'),
    description          text,
    max_attempts         integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 1000),
    backoff_base_seconds double precision NOT NULL DEFAULT 2
                         CHECK (backoff_base_seconds >= 0),
    backoff_max_seconds  double precision NOT NULL DEFAULT 3600
                         CHECK (backoff_max_seconds >= 0),
    timeout_seconds      integer NOT NULL DEFAULT 1800 CHECK (timeout_seconds > 0),
    priority             smallint NOT NULL DEFAULT 50 CHECK (priority BETWEEN 0 AND 100),
    retention            interval NOT NULL DEFAULT '7 days' CHECK (retention >= '0'::interval),
    payload_schema       jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE spool.job_live (
    id                  uuid NOT NULL,
    seq                 bigint NOT NULL,
    type                text NOT NULL,
    queue               text NOT NULL DEFAULT 'default',
    status              text NOT NULL
                        CHECK (status IN ('blocked', 'scheduled', 'pending', 'running', 'failed',
                                          'completed', 'dead', 'cancelled')),
    priority            smallint NOT NULL CHECK (priority BETWEEN 0 AND 100),
    run_at              timestamptz NOT NULL,
    payload             jsonb NOT NULL,
    result              jsonb,
    error               text,
    errors              jsonb,
    attempts            integer NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL,
    timeout_seconds     integer NOT NULL,
    service_required    text,
    requirements        jsonb,
    customer_id         text,
    tags                text[],
    metadata            jsonb,
    idempotency_key     text,
    original_job_id     uuid,
    progress            smallint NOT NULL DEFAULT 0,
    progress_message    text,
    worker_id           text,
    lease_token         uuid,
    lease_seconds       integer,
    lease_expires_at    timestamptz,
    deadline_at         timestamptz,
    cancel_requested_at timestamptz,
    cancel_reason       text,
    pending_parents     integer NOT NULL DEFAULT 0,
    has_dependents      boolean NOT NULL DEFAULT false,
    cost                numeric,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    CONSTRAINT job_live_pkey PRIMARY KEY (id)
) WITH (fillfactor = 80,
        autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_cost_delay = 0,
        autovacuum_analyze_scale_factor = 0.02);

CREATE TABLE spool.job_archive (LIKE spool.job_live INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE spool.job_archive ADD CONSTRAINT job_archive_pkey PRIMARY KEY (id);
ALTER TABLE spool.job_archive SET (autovacuum_vacuum_insert_scale_factor = 0.05);

CREATE SEQUENCE spool.job_seq AS bigint;

-- Claim order: highest priority first, then earliest run_at, then submission order.
CREATE INDEX job_live_claim ON spool.job_live (priority DESC, run_at, seq)
    WHERE status = 'pending';
-- promote(): scheduled jobs and failed jobs waiting for their backoff.
CREATE INDEX job_live_due ON spool.job_live (run_at)
    WHERE status IN ('scheduled', 'failed');
-- rescue(): running jobs by the earlier of lease expiry and timeout deadline.
CREATE INDEX job_live_expiry ON spool.job_live (least(lease_expires_at, deadline_at))
    WHERE status = 'running';
-- heartbeat() finds leases through job_live_expiry too: the running set is bounded by the
-- workers' slots, so a scan of it is cheaper than one more index on every claim.

-- Rows arrive in finished_at order, so a BRIN index serves prune() and the reporting views at
-- a fraction of a btree's cost per completed job.
CREATE INDEX job_archive_finished ON spool.job_archive USING brin (finished_at);
CREATE INDEX job_archive_original ON spool.job_archive (original_job_id)
    WHERE original_job_id IS NOT NULL;

-- A finished job with dependents unblocks or cancels them. Most jobs have none, and the WHEN
-- clause keeps the trigger from firing for those at all. The trigger function's body lives
-- in sql/functions/on_archive_dependents.sql (applied right after the migrations); this
-- definition only lets the trigger be created first.
CREATE FUNCTION spool.on_archive_dependents() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER job_archive_dependents
    AFTER INSERT ON spool.job_archive
    FOR EACH ROW WHEN (NEW.has_dependents)
    EXECUTE FUNCTION spool.on_archive_dependents();

CREATE VIEW spool.jobs AS
    SELECT * FROM spool.job_live
    UNION ALL
    SELECT * FROM spool.job_archive;

COMMENT ON VIEW spool.jobs IS
    'every job, live or finished (within retention): query this from psql';

-- Idempotency keys map to the job they created for as long as that job exists (live or
-- archived); prune() removes a key with its job.
CREATE TABLE spool.idempotency_keys (
    key          text PRIMARY KEY,
    job_id       uuid NOT NULL,
    request_hash text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_job ON spool.idempotency_keys (job_id);

CREATE TABLE spool.job_dependencies (
    job_id    uuid NOT NULL,
    parent_id uuid NOT NULL,
    PRIMARY KEY (job_id, parent_id)
);
CREATE INDEX job_dependencies_parent ON spool.job_dependencies (parent_id);

-- The event log. A row records one state change of one job (job_id) or, on the hot paths
-- (submit, claim, complete), the same change of a batch of jobs (job_ids): one row per batch
-- and group instead of one per job keeps the log's cost per job small. Read it through the
-- view spool.events, which has one row per job and event; ids are the bigint sequence.
CREATE TABLE spool.event_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      uuid,
    job_ids     uuid[],
    kind        text NOT NULL,
    status      text,
    type        text,
    queue       text,
    customer_id text,
    data        jsonb,
    at          timestamptz NOT NULL DEFAULT now(),
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CHECK ((job_id IS NULL) <> (job_ids IS NULL))
);
-- No btree on job ids: it would cost every state change an index insert. A job's events are
-- found within its lifetime (created_at .. finished_at) through the BRIN on at
-- (spool.job_events(job_id) does that).
CREATE INDEX event_log_at ON spool.event_log USING brin (at);
CREATE INDEX event_log_failures ON spool.event_log (id) WHERE kind IN ('failed', 'dead');

CREATE VIEW spool.events AS
SELECT e.id, coalesce(e.job_id, u.job_id) AS job_id, e.kind, e.status, e.type, e.queue,
       e.customer_id, e.data, e.at, e.xid
  FROM spool.event_log e
  LEFT JOIN LATERAL unnest(e.job_ids) AS u(job_id) ON true;

COMMENT ON VIEW spool.events IS
    'the event log, one row per job and event; id is the event sequence (shared by a batch)';

CREATE TABLE spool.workers (
    id                text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    name              text,
    transport         text NOT NULL DEFAULT 'pg',
    capabilities      jsonb NOT NULL DEFAULT '{}',
    metadata          jsonb,
    status            text NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'draining', 'offline')),
    registered_at     timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    jobs_completed    bigint NOT NULL DEFAULT 0,
    jobs_failed       bigint NOT NULL DEFAULT 0
);

CREATE TABLE spool.api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text,
    token_hash   text NOT NULL UNIQUE,
    role         text NOT NULL CHECK (role IN ('admin', 'client', 'worker')),
    tenant       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Reporting views for psql.

-- Live jobs by type, queue and status, with the age of the oldest runnable one.
CREATE VIEW spool.queue_depth AS
SELECT type, queue, status, count(*) AS jobs,
       max(now() - run_at) FILTER (WHERE status = 'pending') AS oldest_pending_age
  FROM spool.job_live
 GROUP BY type, queue, status
 ORDER BY type, queue, status;

-- Per minute over the last hour, from the event log.
CREATE VIEW spool.throughput AS
SELECT date_trunc('minute', at) AS minute, type,
       sum(n) FILTER (WHERE kind = 'submitted') AS submitted,
       sum(n) FILTER (WHERE kind = 'claimed') AS started,
       sum(n) FILTER (WHERE kind = 'completed') AS completed,
       sum(n) FILTER (WHERE kind = 'failed') AS failed,
       sum(n) FILTER (WHERE kind = 'dead') AS dead,
       sum(n) FILTER (WHERE kind = 'cancelled') AS cancelled
  FROM (SELECT at, type, kind, coalesce(cardinality(job_ids), 1) AS n FROM spool.event_log
         WHERE at > now() - interval '1 hour') e
 GROUP BY 1, 2
 ORDER BY 1 DESC, 2;

-- Failed attempts and dead jobs, newest first, with their error.
CREATE VIEW spool.recent_failures AS
SELECT e.id AS event_id, e.at, e.job_id, e.type, e.queue, e.kind,
       (e.data->>'attempt')::integer AS attempt, e.data->>'error' AS error,
       (e.data->>'retry_at')::timestamptz AS retry_at
  FROM spool.event_log e
 WHERE e.kind IN ('failed', 'dead')
 ORDER BY e.id DESC;

-- Workers, how long since each was heard from, and what it holds.
CREATE VIEW spool.worker_health AS
SELECT w.id, w.name, w.transport, w.status, w.last_heartbeat_at,
       round(extract(epoch FROM now() - w.last_heartbeat_at))::bigint AS seconds_since_heartbeat,
       coalesce(r.running, 0) AS running_jobs,
       w.jobs_completed, w.jobs_failed,
       CASE WHEN w.status = 'offline' THEN 'offline'
            WHEN now() - w.last_heartbeat_at < interval '60 seconds' THEN 'healthy'
            WHEN now() - w.last_heartbeat_at < interval '5 minutes' THEN 'stale'
            ELSE 'lost' END AS health
  FROM spool.workers w
  LEFT JOIN (SELECT worker_id, count(*) AS running FROM spool.job_live
              WHERE status = 'running' GROUP BY worker_id) r ON r.worker_id = w.id
 ORDER BY w.id;

-- Insert-to-start latency of first attempts finished in the last hour, by type (ms).
CREATE VIEW spool.latency AS
SELECT type, count(*) AS jobs,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1) AS p50_ms,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY ms))::numeric, 1) AS p90_ms,
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 1) AS p99_ms,
       round(max(ms)::numeric, 1) AS max_ms
  FROM (SELECT type, extract(epoch FROM started_at - greatest(created_at, run_at)) * 1000 AS ms
          FROM spool.job_archive
         WHERE finished_at > now() - interval '1 hour' AND attempts = 1 AND started_at IS NOT NULL
       ) x
 GROUP BY type
 ORDER BY type;
