-- 0003_event_storage: store event_log.job_ids out of line without compression.
--
-- Hot paths write one event row per batch group whose job_ids array holds every job of the
-- batch (16 bytes each: a claim of 1,000 jobs is a 16 KB array). Past ~2 KB PostgreSQL
-- tries pglz on the value before moving it to TOAST; random UUIDs do not compress, so the
-- attempt was pure waste: 17% of the backend's CPU in a claim + complete benchmark at batch
-- 1,000. EXTERNAL keeps the out-of-line storage and skips the compression attempt.
-- Never edit this file once landed: add 0004_… instead.

ALTER TABLE spool.event_log ALTER COLUMN job_ids SET STORAGE EXTERNAL;
