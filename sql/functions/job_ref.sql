-- spool.job_ref(n integer, ord bigint) -> text
-- The prefix that names a job of a batch in an error message: 'jobs[3]: ' (0-based, as in the
-- JSON array), or '' when the batch holds a single job.
CREATE OR REPLACE FUNCTION spool.job_ref(n integer, ord bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n > 1 THEN format('jobs[%s]: ', ord - 1) ELSE '' END
$$;
