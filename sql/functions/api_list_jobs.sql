-- spool.api_list_jobs(status, type, queue, tag, customer_id, lim, after uuid) -> jsonb
-- One page of jobs (live and archived), newest first, as {"jobs":[…], "next_cursor": id|null}.
-- Keyset pagination on the job id (UUIDv7, time-ordered): the next page is the jobs with an
-- id below the last one returned, so jobs submitted meanwhile never shift or repeat a page.
-- Every filter is optional (NULL = any); tag matches jobs carrying that tag; lim is 1..1000.
CREATE OR REPLACE FUNCTION spool.api_list_jobs(status text DEFAULT NULL, type text DEFAULT NULL,
                                               queue text DEFAULT NULL, tag text DEFAULT NULL,
                                               customer_id text DEFAULT NULL,
                                               lim integer DEFAULT 50, after uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_variable
DECLARE
    page jsonb;
    n    integer;
BEGIN
    IF lim IS NULL OR lim NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'SP422', MESSAGE = 'limit must be from 1 to 1000';
    END IF;
    SELECT coalesce(jsonb_agg(to_jsonb(j) - 'lease_token' ORDER BY j.id DESC), '[]'), count(*)
      INTO page, n
      FROM (SELECT * FROM spool.jobs j
             WHERE (status IS NULL OR j.status = status)
               AND (type IS NULL OR j.type = type)
               AND (queue IS NULL OR j.queue = queue)
               AND (tag IS NULL OR j.tags @> ARRAY[tag])
               AND (customer_id IS NULL OR j.customer_id = customer_id)
               AND (after IS NULL OR j.id < after)
             ORDER BY j.id DESC
             LIMIT lim) j;
    RETURN jsonb_build_object('jobs', page,
        'next_cursor', CASE WHEN n = lim THEN page->(n - 1)->'id' END);
END
$$;
