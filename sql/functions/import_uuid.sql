-- spool.import_uuid(legacy_id text, kind text DEFAULT 'Job') -> uuid
-- The Spool id of an imported legacy row (import-prisma), so that links holding a legacy id
-- stay valid: a legacy id that is a UUID (Prisma's @default(uuid())) is kept as it is,
-- lowercased; any other id (a cuid, a custom string) becomes a name-based UUIDv8 (RFC 9562,
-- appendix B.2 style): the first 16 bytes of SHA-256('spool-import:' || kind || ':' ||
-- legacy_id), with the version nibble set to 8 and the variant bits to 10. kind is 'Job' or
-- 'Task'. The CLI computes the same mapping in C (cli/import_prisma_map.c); NULL in, NULL out.
CREATE OR REPLACE FUNCTION spool.import_uuid(legacy_id text, kind text DEFAULT 'Job') RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN legacy_id ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
        THEN lower(legacy_id)::uuid
        ELSE encode(set_byte(set_byte(h, 6, (get_byte(h, 6) & 15) | 128),
                             8, (get_byte(h, 8) & 63) | 128), 'hex')::uuid
    END
      FROM (SELECT substring(sha256(convert_to('spool-import:' || kind || ':' || legacy_id, 'UTF8'))
                             FROM 1 FOR 16) AS h) x
$$;
