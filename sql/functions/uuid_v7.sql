-- spool.uuid_v7() -> uuid
-- A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then random bits.
-- Job ids sort by creation time, so btree inserts on ids land on the right edge of the index.
CREATE OR REPLACE FUNCTION spool.uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;
