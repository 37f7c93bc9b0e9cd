-- spool.events_message(e spool.event_log) -> text
-- One event_log row as the single line of JSON that spoold's streams send after "data: ":
--   {"id":N,"kind":"…","status":"…","job_id":"…","type":"…","queue":"…","customer_id":"…",
--    "data":{…},"at":"…"}
-- A batch row carries "job_ids":[…] in place of "job_id". Keys come in this order, always
-- present (null when the column is NULL; "data" is {} when the row has none), with no space
-- between them; "data" is the stored jsonb unchanged (its own nulls are kept). No newline can
-- occur: JSON strings escape theirs. spool.events_after (live) and spool.events_replay
-- (catch-up) both format with this, so a replayed event is byte-identical to the live one.
CREATE OR REPLACE FUNCTION spool.events_message(e spool.event_log) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT '{"id":' || e.id
        || ',"kind":' || to_json(e.kind)::text
        || ',"status":' || coalesce(to_json(e.status)::text, 'null')
        || CASE WHEN e.job_ids IS NULL
                THEN ',"job_id":' || coalesce(to_json(e.job_id)::text, 'null')
                ELSE ',"job_ids":' || to_json(e.job_ids)::text END
        || ',"type":' || coalesce(to_json(e.type)::text, 'null')
        || ',"queue":' || coalesce(to_json(e.queue)::text, 'null')
        || ',"customer_id":' || coalesce(to_json(e.customer_id)::text, 'null')
        || ',"data":' || coalesce(e.data::text, '{}')
        || ',"at":' || to_json(e.at)::text
        || '}'
$$;
