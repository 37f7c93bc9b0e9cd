-- spool.job_uuid(seq bigint) -> uuid
-- A new job's id: a UUIDv7 (RFC 9562) from the clock's milliseconds and the job's seq (12
-- bits of seq in rand_a, the low 62 bits of seq in rand_b). Unique because seq is, sorted by
-- creation time, and cheap: no random source per row. A plain SQL expression, so the planner
-- inlines it into the statements that call it.
CREATE OR REPLACE FUNCTION spool.job_uuid(seq bigint) RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(int8send((floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16)
                           | 28672 | (seq & 4095))
                  || int8send((seq & 4611686018427387903) | (-9223372036854775808)::bigint),
                  'hex')::uuid
$$;
