-- 0002_import: what `spool import-prisma` needs next to the jobs it imports.
--
--   job_tasks    the legacy "Task" rows (one LLM call or pipeline step of an evaluation),
--                kept with the job they belong to. Spool itself never writes them; they
--                leave with their job when prune() removes it (trigger job_archive_tasks).
--   import_runs  one row per import run: its options, the schema shape it found, and its
--                position (the last legacy id committed), so that an interrupted run
--                resumes after the last committed batch.
--   import_rows  one row per imported legacy job: the Spool job id it became, a checksum of
--                what the import wrote (job + tasks), and the status and attempts it wrote,
--                so that a later run re-imports only new or changed rows and never
--                overwrites a job Spool has run since.
--   retry_chains a view: every retry chain (a root and the jobs whose original_job_id names
--                it), oldest first.
-- Never edit this file once landed: add 0003_… instead.

CREATE TABLE spool.job_tasks (
    id               uuid NOT NULL,
    job_id           uuid NOT NULL,
    legacy_id        text,
    name             text NOT NULL,
    model            text,
    price            numeric,            -- dollars, exact
    time_seconds     integer,
    log              text,
    llm_interactions jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz,
    -- One index serves both uses (a job's tasks; a task's identity). Keyed by job first:
    -- import-prisma writes jobs in id order, so these inserts land next to each other
    -- where a random task id would touch a random page of the index for every row.
    CONSTRAINT job_tasks_pkey PRIMARY KEY (job_id, id)
);

COMMENT ON TABLE spool.job_tasks IS
    'steps of a job (LLM calls of an imported evaluation): name, model, price in dollars, time, log';

CREATE TABLE spool.import_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL,            -- the source database, password redacted
    shape       text NOT NULL,            -- the legacy schema shape that was detected
    options     jsonb NOT NULL,           -- {"type","running","since"}: a run resumes only with the same
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'done', 'failed')),
    position    text,                     -- last legacy id committed, in the source's order
    rows_done   bigint NOT NULL DEFAULT 0,
    inserted    bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    conflicts   bigint NOT NULL DEFAULT 0,
    tasks       bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE spool.import_rows (
    job_id        uuid PRIMARY KEY,       -- spool.import_uuid(legacy_id)
    legacy_id     text NOT NULL,
    checksum      text NOT NULL,
    legacy_status text NOT NULL,
    status        text NOT NULL,          -- as the import wrote it
    attempts      integer NOT NULL,       -- as the import wrote it
    run_id        bigint NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now()
);

-- Tasks leave with their job. Only imported jobs have tasks, and they carry
-- metadata.legacy, so the WHEN clause keeps the trigger from firing for any other job that
-- prune() removes. The body lives in sql/functions/on_archive_delete_tasks.sql.
CREATE FUNCTION spool.on_archive_delete_tasks() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER job_archive_tasks
    AFTER DELETE ON spool.job_archive
    FOR EACH ROW WHEN (OLD.metadata ? 'legacy')
    EXECUTE FUNCTION spool.on_archive_delete_tasks();

CREATE VIEW spool.retry_chains AS
SELECT coalesce(original_job_id, id) AS root_id,
       count(*) AS jobs,
       array_agg(id ORDER BY created_at, seq) AS job_ids,
       array_agg(status ORDER BY created_at, seq) AS statuses,
       min(created_at) AS first_created_at,
       max(finished_at) AS last_finished_at
  FROM spool.jobs
 GROUP BY coalesce(original_job_id, id)
HAVING count(*) > 1;

COMMENT ON VIEW spool.retry_chains IS
    'retry chains: a root job and its retries (original_job_id), oldest first';

