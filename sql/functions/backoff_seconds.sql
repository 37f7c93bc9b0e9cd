-- spool.backoff_seconds(type text, attempt integer) -> double precision
-- Delay before the next attempt after `attempt` failed: capped exponential with jitter,
-- d = min(backoff_max, backoff_base * 2^(attempt-1)), returned as d * [0.75, 1.0).
CREATE OR REPLACE FUNCTION spool.backoff_seconds(p_type text, p_attempt integer)
RETURNS double precision
LANGUAGE sql VOLATILE AS $$
    SELECT least(t.backoff_max_seconds,
                 t.backoff_base_seconds * power(2::double precision, least(greatest(p_attempt, 1) - 1, 60)))
           * (0.75 + 0.25 * random())
      FROM spool.job_types t WHERE t.name = p_type
$$;
