-- spool.complete_and_claim(worker_id, job_ids, lease_tokens, results, capabilities, max_jobs,
--                          lease_seconds) -> SETOF spool.jobs (the newly claimed jobs)
-- The worker's hot path in one round trip: complete the batch it just ran (as
-- complete_many) and claim the next (as claim). Completions refused because the lease is no
-- longer current change nothing and are reported as one WARNING each (SQLSTATE SP410).
CREATE OR REPLACE FUNCTION spool.complete_and_claim(worker_id text, job_ids uuid[],
                                                    lease_tokens uuid[],
                                                    results jsonb[] DEFAULT NULL,
                                                    capabilities jsonb DEFAULT NULL,
                                                    max_jobs integer DEFAULT 1,
                                                    lease_seconds integer DEFAULT 60)
RETURNS SETOF spool.jobs
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    refused uuid;
BEGIN
    IF coalesce(cardinality(job_ids), 0) > 0 THEN
        FOR refused IN SELECT c.job_id FROM spool.complete_many(job_ids, lease_tokens, results) c
                        WHERE NOT c.accepted LOOP
            RAISE WARNING USING ERRCODE = 'SP410',
                MESSAGE = format('completion of job %s refused: lease is no longer current', refused);
        END LOOP;
    END IF;
    IF max_jobs > 0 THEN
        RETURN QUERY SELECT * FROM spool.claim(worker_id, capabilities, max_jobs, lease_seconds);
    END IF;
END
$$;
