-- spool.complete_many(job_ids uuid[], lease_tokens uuid[], results jsonb[])
--   -> TABLE(job_id uuid, accepted boolean), one row per input, in input order
-- The batch form of complete for the hot path. results may be NULL (no results) or hold
-- NULLs. A job whose lease is no longer current is not changed and reported accepted=false.
CREATE OR REPLACE FUNCTION spool.complete_many(job_ids uuid[], lease_tokens uuid[],
                                               results jsonb[] DEFAULT NULL)
RETURNS TABLE (job_id uuid, accepted boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
    n    integer := coalesce(cardinality(job_ids), 0);
    done uuid[];
    toks uuid[];
BEGIN
    IF n <> coalesce(cardinality(lease_tokens), 0)
       OR (results IS NOT NULL AND cardinality(results) <> n) THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422',
            MESSAGE = 'job_ids, lease_tokens and results must have the same length';
    END IF;
    IF n = 0 THEN
        RETURN;
    END IF;
    WITH m AS MATERIALIZED (
        SELECT a.id, a.worker_id, a.lease_token
          FROM spool.move_to_archive(job_ids, lease_tokens, array_fill('completed'::text, ARRAY[n]),
                                     coalesce(results, array_fill(NULL::jsonb, ARRAY[n])),
                                     array_fill(NULL::text, ARRAY[n])) a
    ), w AS (
        UPDATE spool.workers w SET jobs_completed = w.jobs_completed + c.n
          FROM (SELECT m.worker_id, count(*) AS n FROM m GROUP BY m.worker_id) c
         WHERE w.id = c.worker_id
    )
    SELECT coalesce(array_agg(m.id), '{}'), coalesce(array_agg(m.lease_token), '{}') INTO done, toks FROM m;
    RETURN QUERY
    SELECT u.id, EXISTS (SELECT 1 FROM unnest(done, toks) d(id, tok) WHERE d.id = u.id AND d.tok = u.tok)
      FROM unnest(job_ids, lease_tokens) WITH ORDINALITY u(id, tok, ord)
     ORDER BY u.ord;
END
$$;
