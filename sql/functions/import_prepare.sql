-- spool.import_prepare() -> void
-- Creates the session's staging tables for import-prisma (temporary, so nothing is left
-- behind and other sessions never see them):
--   pg_temp.import_jobs   one mapped legacy job per row (COPY target), emptied at commit:
--                         the rows a batch cannot write straight into the job tables (jobs
--                         imported before, for spool.import_apply) or all of them (--verify);
--   pg_temp.import_tasks  its tasks, emptied at commit;
--   pg_temp.import_seen   legacy ids --verify has checked, kept for the session.
-- Safe to call again in the same session.
CREATE OR REPLACE FUNCTION spool.import_prepare() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Columns in the order of a mapped job's COPY line (cli/import_prisma_map.h): first
    -- those spool.job_live and job_archive share, then the legacy id and status, the
    -- checksum and where the job goes.
    CREATE TEMP TABLE IF NOT EXISTS import_jobs (
        id                  uuid NOT NULL,
        status              text NOT NULL,
        run_at              timestamptz NOT NULL,
        payload             jsonb NOT NULL,
        result              jsonb,
        error               text,
        errors              jsonb,
        attempts            integer NOT NULL,
        metadata            jsonb NOT NULL,
        original_job_id     uuid,
        progress            smallint NOT NULL,
        cancel_requested_at timestamptz,
        cancel_reason       text,
        cost                numeric,
        created_at          timestamptz NOT NULL,
        started_at          timestamptz,
        finished_at         timestamptz,
        legacy_id           text NOT NULL,
        legacy_status       text NOT NULL,
        checksum            text NOT NULL,
        live                boolean NOT NULL
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS import_tasks (
        id               uuid NOT NULL,
        job_id           uuid NOT NULL,
        legacy_id        text NOT NULL,
        name             text NOT NULL,
        model            text,
        price            numeric,
        time_seconds     integer,
        log              text,
        llm_interactions jsonb,
        created_at       timestamptz NOT NULL,
        updated_at       timestamptz
    ) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS import_seen (legacy_id text PRIMARY KEY);
END
$$;
