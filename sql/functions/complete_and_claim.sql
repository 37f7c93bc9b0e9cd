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
    n       integer := coalesce(cardinality(job_ids), 0);
    moved   uuid[];
    refused uuid;
BEGIN
    IF n > 0 THEN
        IF n <> coalesce(cardinality(lease_tokens), 0)
           OR (results IS NOT NULL AND cardinality(results) <> n) THEN
            RAISE EXCEPTION USING ERRCODE = 'SP422',
                MESSAGE = 'job_ids, lease_tokens and results must have the same length';
        END IF;
        moved := ARRAY(SELECT m.id FROM spool.move_to_archive(
                           job_ids, lease_tokens, array_fill('completed'::text, ARRAY[n]),
                           coalesce(results, array_fill(NULL::jsonb, ARRAY[n])),
                           array_fill(NULL::text, ARRAY[n])) m);
        IF cardinality(moved) > 0 THEN
            UPDATE spool.workers w SET jobs_completed = w.jobs_completed + cardinality(moved)
             WHERE w.id = worker_id;
        END IF;
        IF cardinality(moved) < n THEN
            FOR refused IN SELECT x FROM unnest(job_ids) x WHERE x <> ALL(moved) LOOP
                RAISE WARNING USING ERRCODE = 'SP410',
                    MESSAGE = format('completion of job %s refused: lease is no longer current', refused);
            END LOOP;
        END IF;
    END IF;
    IF max_jobs > 0 THEN
        RETURN QUERY SELECT * FROM spool.claim(worker_id, capabilities, max_jobs, lease_seconds);
    END IF;
END
$$;
