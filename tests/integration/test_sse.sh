#!/usr/bin/env bash
# Integration test of spoold's live event streams (server/srv_events.c, server/srv_sse.c)
# against a real PostgreSQL cluster of its own, which it restarts on purpose:
#   - live delivery and the exact wire format (headers, retry, id/event/data, the JSON keys);
#   - holes: two transactions committing out of order (including the case where the later
#     id's writer has the smaller transaction id, which a snapshot-xmax rule gets wrong), a
#     rolled-back insert, and a sequence jump;
#   - Last-Event-ID replay then live, under concurrent writers, with no gap and no duplicate,
#     for a stream that reconnects again and again;
#   - per-job streams (batch rows included) ending after the final event, 204 after it;
#   - max_subscribers (503 too_many_subscribers);
#   - a slow subscriber dropped with bounded memory; a live stream whose client leaves ending
#     at once, one whose client stops reading let go after request_timeout or at SIGTERM;
#   - the LISTEN connection re-established after a PostgreSQL restart, with a catch-up read;
#   - SIGTERM ending every stream cleanly (curl sees a complete, close-delimited response).
#   SPOOL_TEST_DATABASE_URL=... tests/integration/test_sse.sh build/spoold build/spool
# Skips (exit 77) when SPOOL_TEST_DATABASE_URL is unset, like the other integration tests;
# the URL itself is not used: this test needs a cluster it may stop and start.
set -uo pipefail

SPOOLD=${1:?usage: test_sse.sh path/to/spoold path/to/spool}
SPOOL=${2:?usage: test_sse.sh path/to/spoold path/to/spool}
if [ -z "${SPOOL_TEST_DATABASE_URL:-}" ]; then
    echo "SPOOL_TEST_DATABASE_URL is not set: skipping"
    exit 77
fi
for tool in curl jq python3 psql; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed: skipping"; exit 77; }
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
unset SPOOL_CONFIG SPOOL_LOG_LEVEL SPOOL_AUTH SPOOL_LISTEN SPOOL_DATABASE_URL
TMP=$(mktemp -d /tmp/spool-sse-test.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    "$ROOT/scripts/pg.sh" stop "$TMP/pg" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && echo "    ${2:0:1500}"; }
# check NAME DETAIL COMMAND...: DETAIL is printed when COMMAND fails.
check() { local name=$1 detail=$2; shift 2; if "$@"; then ok "$name"; else not_ok "$name" "$detail"; fi; }
# wait_until SECONDS COMMAND...: polls every 0.1 s.
wait_until() {
    local n=$(($1 * 10))
    shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
    return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

URL=$("$ROOT/scripts/pg.sh" start "$TMP/pg") || { echo "could not start PostgreSQL"; exit 1; }
"$SPOOL" --database-url "$URL" migrate >/dev/null || { echo "migrate failed"; exit 1; }
psql() { command psql "$URL" -qAtX -v ON_ERROR_STOP=1 "$@"; }
psql -c "SELECT spool.register_type('sse_t', max_attempts => 1)" >/dev/null
ADMIN=$("$SPOOL" --database-url "$URL" tokens create --role admin --name admin 2>/dev/null)
TENANT=$("$SPOOL" --database-url "$URL" tokens create --role client --tenant acme --name acme 2>/dev/null)

# start_spoold PORT [flags...]: starts spoold, waits for /healthz, leaves its pid in SPID.
start_spoold() {
    local port=$1
    shift
    "$SPOOLD" --database-url "$URL" --listen "127.0.0.1:$port" "$@" \
        >>"$TMP/spoold-$port.log" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    # Up, and its event hub has read the log (streams are refused with 503 until then).
    for _ in $(seq 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 0.3 -H "Authorization: Bearer $ADMIN" \
            "http://127.0.0.1:$port/v1/events?queue=-")" = 200 ] && return 0
        sleep 0.05
    done
    echo "spoold did not start:"; tail -5 "$TMP/spoold-$port.log"
    return 1
}
# subscribers PORT: the spool_sse_subscribers gauge.
subscribers() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^spool_sse_subscribers / {print $2}'; }

# stream NAME PATH [curl args...]: a background stream into $TMP/NAME.sse (headers in
# NAME.hdr); its pid in STREAM_PID.
stream() {
    local name=$1 path=$2
    shift 2
    curl -sN -D "$TMP/$name.hdr" -H "Authorization: Bearer $ADMIN" "$@" "$BASE$path" \
        >"$TMP/$name.sse" 2>"$TMP/$name.err" &
    STREAM_PID=$!
    PIDS+=("$STREAM_PID")
}
ids_of() { grep '^id: ' "$1" | cut -d' ' -f2; }
has_id() { grep -qx "id: $2" "$1"; }
stream_up() { grep -q '^retry: 2000' "$1" 2>/dev/null; }

# A psql session held open on a fifo, for transactions that interleave.
#   session_open NAME; session NAME "SQL;"; output in $TMP/NAME.out
session_open() {
    mkfifo "$TMP/$1.in"
    command psql "$URL" -qAtX -v ON_ERROR_STOP=1 <"$TMP/$1.in" >"$TMP/$1.out" 2>&1 &
    PIDS+=($!)
    eval "exec {SESS_$1}>\"$TMP/$1.in\""
}
session() { local fd="SESS_$1"; echo "$2" >&"${!fd}"; }
session_close() { local fd="SESS_$1"; eval "exec ${!fd}>&-"; }
session_value() { grep "^$2|" "$TMP/$1.out" 2>/dev/null | tail -1 | cut -d'|' -f2; }

PORT=$(free_port)
start_spoold "$PORT" --sse-heartbeat 1s --events-poll 200ms || exit 1
MAIN_PID=$SPID
BASE="http://127.0.0.1:$PORT"

# ---- live delivery and the wire format ------------------------------------------------------------
stream live "/v1/events?queue=fmt"
LIVE=$STREAM_PID
wait_until 5 stream_up "$TMP/live.sse"
J1=$(psql -c "SELECT id FROM spool.submit('sse_t', queue => 'fmt', customer_id => 'acme')")
psql -c "INSERT INTO spool.event_log (job_id, kind, status, type, queue, data) VALUES ('$J1', 'progress', 'pending', 'sse_t', 'fmt', '{\"k\": null, \"s\": \"two\\nlines\"}')" >/dev/null
psql -c "SELECT count(*) FROM spool.submit_many('[{\"type\":\"sse_t\",\"queue\":\"fmt\"},{\"type\":\"sse_t\",\"queue\":\"fmt\"}]')" >/dev/null
want_fmt=$(psql -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM spool.event_log WHERE queue = 'fmt'")
last_fmt=${want_fmt##* }
wait_until 5 has_id "$TMP/live.sse" "$last_fmt"
check "live: every event of the stream's queue arrives, in id order" \
    "want=[$want_fmt] got=[$(ids_of "$TMP/live.sse" | paste -sd' ')]" \
    eval '[ "$(ids_of "$TMP/live.sse" | paste -sd" ")" = "$want_fmt" ]'
check "headers: text/event-stream, no-cache, X-Accel-Buffering: no" "$(cat "$TMP/live.hdr")" \
    eval 'grep -qi "^content-type: text/event-stream" "$TMP/live.hdr" && grep -qi "^cache-control: no-cache" "$TMP/live.hdr" && grep -qi "^x-accel-buffering: no" "$TMP/live.hdr"'
check "the stream starts with retry: 2000" "$(head -c 200 "$TMP/live.sse")" \
    eval '[ "$(head -1 "$TMP/live.sse")" = "retry: 2000" ]'
# Every frame: id: N, event: KIND, data: one line of JSON with id N and kind KIND, keys in order.
frames_ok() {
    python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
frames = [f for f in text.split("\n\n") if f.startswith("id: ")]
assert frames, "no frames"
keys_single = ["id", "kind", "status", "job_id", "type", "queue", "customer_id", "data", "at"]
keys_batch = ["id", "kind", "status", "job_ids", "type", "queue", "customer_id", "data", "at"]
for f in frames:
    lines = f.split("\n")
    assert len(lines) == 3, f
    assert lines[1].startswith("event: ") and lines[2].startswith("data: "), f
    d = json.loads(lines[2][6:])
    assert d["id"] == int(lines[0][4:]) and d["kind"] == lines[1][7:], f
    assert list(d.keys()) in (keys_single, keys_batch), list(d.keys())
    assert isinstance(d["data"], dict), f
PY
}
check "frames: id, event, one-line JSON data with the documented keys" "$(head -c 1500 "$TMP/live.sse")" \
    frames_ok "$TMP/live.sse"
check "data is sent as stored: a null inside the event's data is kept, newlines escaped" \
    "$(grep '^data: .*progress' "$TMP/live.sse")" \
    eval 'grep "^data: " "$TMP/live.sse" | grep "\"progress\"" | head -1 | cut -c7- | jq -e ".data | has(\"k\") and .k == null and .s == \"two\\nlines\"" >/dev/null'
check "a batch row carries job_ids" "" eval 'grep -q "\"job_ids\":\[\"" "$TMP/live.sse"'
sleep 1.5
check "idle streams get : ping comments" "" grep -q '^: ping$' "$TMP/live.sse"
kill "$LIVE" 2>/dev/null

# ---- tenant scoping ---------------------------------------------------------------------------------
curl -sN --max-time 2 -H "Authorization: Bearer $TENANT" "$BASE/v1/events?queue=fmt&last_event_id=0" \
    >"$TMP/tenant.sse" 2>/dev/null
check "a tenant's replay carries only its customer's events" "$(grep '^data' "$TMP/tenant.sse")" \
    eval '[ "$(grep -c "^data: " "$TMP/tenant.sse")" = 1 ] && grep -q "$J1" "$TMP/tenant.sse"'

# ---- holes: out-of-order commits, rollback, sequence jump --------------------------------------------
ev_sql() { # ev_sql KIND: an event row of queue 'holes', returning its id tagged KIND
    echo "INSERT INTO spool.event_log (job_id, kind, status, type, queue) VALUES (gen_random_uuid(), '$1', 'running', 'sse_t', 'holes') RETURNING '$1', id;"
}
stream holes "/v1/events?queue=holes"
HOLES=$STREAM_PID
wait_until 5 stream_up "$TMP/holes.sse"
session_open a
session_open b
# b takes its transaction id first; a takes a later one and the smaller event id; b commits
# the larger event id first. Right after, no transaction has completed above b's id, so a
# snapshot's xmax does not exceed a's still-running transaction id.
session b "BEGIN; SELECT 'xid', pg_current_xact_id();"
wait_until 5 eval '[ -n "$(session_value b xid)" ]'
session a "BEGIN; SELECT 'xid', pg_current_xact_id(); $(ev_sql hole_a)"
wait_until 5 eval '[ -n "$(session_value a hole_a)" ]'
session b "$(ev_sql hole_b) COMMIT;"
wait_until 5 eval '[ -n "$(session_value b hole_b)" ]'
A_ID=$(session_value a hole_a)
B_ID=$(session_value b hole_b)
sleep 2
check "hole: the later id waits while the earlier id's transaction runs (2 s)" \
    "a=$A_ID b=$B_ID got=[$(ids_of "$TMP/holes.sse" | paste -sd' ')]" \
    eval '[ "$B_ID" -gt "$A_ID" ] && ! has_id "$TMP/holes.sse" "$B_ID"'
session a "COMMIT;"
wait_until 5 has_id "$TMP/holes.sse" "$B_ID"
check "hole: once it commits, both arrive in id order" "got=[$(ids_of "$TMP/holes.sse" | paste -sd' ')]" \
    eval '[ "$(ids_of "$TMP/holes.sse" | paste -sd" ")" = "$A_ID $B_ID" ]'
# a rolls back an id while b commits the next one.
session a "BEGIN; $(ev_sql rolled_back)"
wait_until 5 eval '[ -n "$(session_value a rolled_back)" ]'
session b "BEGIN; $(ev_sql after_rollback) COMMIT;"
wait_until 5 eval '[ -n "$(session_value b after_rollback)" ]'
R_ID=$(session_value b after_rollback)
sleep 1
check "hole: held while the transaction that may fill it runs" "" eval '! has_id "$TMP/holes.sse" "$R_ID"'
session a "ROLLBACK;"
t0=$(date +%s%N)
wait_until 5 has_id "$TMP/holes.sse" "$R_ID"
t1=$(date +%s%N)
check "hole: a rolled-back id is skipped soon after the rollback ($(((t1 - t0) / 1000000)) ms)" \
    "got=[$(ids_of "$TMP/holes.sse" | paste -sd' ')]" eval 'has_id "$TMP/holes.sse" "$R_ID" && [ $(((t1 - t0) / 1000000)) -lt 2000 ]'
# A sequence jump (what a crash leaves behind): ids that never come.
psql -c "SELECT setval(pg_get_serial_sequence('spool.event_log', 'id'), (SELECT max(id) FROM spool.event_log) + 40)" >/dev/null
J_ID=$(psql -c "$(ev_sql after_jump)" | cut -d'|' -f2)
wait_until 5 has_id "$TMP/holes.sse" "$J_ID"
check "hole: a sequence jump is skipped" "" has_id "$TMP/holes.sse" "$J_ID"
session_close a
session_close b
kill "$HOLES" 2>/dev/null

# ---- Last-Event-ID: replay, then live, under concurrent writers; a stream that reconnects -------------
writer() { # writer N: N single-job transactions of queue 'load', a few ms apart
    psql -c "DO \$\$ BEGIN FOR i IN 1..$1 LOOP PERFORM spool.submit('sse_t', queue => 'load'); COMMIT; PERFORM pg_sleep(0.002 * random()); END LOOP; END \$\$" >/dev/null
}
base=$(psql -c "SELECT coalesce(max(id), 0) FROM spool.event_log")
stream full "/v1/events?queue=load"
FULL=$STREAM_PID
wait_until 5 stream_up "$TMP/full.sse"
writer 400 &
W1=$!
writer 400 &
W2=$!
writer 400 &
W3=$!
# The reconnecting stream: short connections, each resuming from the last id it got.
(
    last=$base
    : >"$TMP/hop.sse"
    while :; do
        curl -sN --max-time 0.4 -H "Authorization: Bearer $ADMIN" -H "Last-Event-ID: $last" \
            "$BASE/v1/events?queue=load" >>"$TMP/hop.sse" 2>/dev/null
        l=$(grep '^id: ' "$TMP/hop.sse" | tail -1 | cut -d' ' -f2)
        [ -n "$l" ] && last=$l
        [ -f "$TMP/hop.stop" ] && [ "$(($(date +%s%N) / 1000000))" -gt "$(cat "$TMP/hop.stop")" ] && break
    done
) &
HOP=$!
sleep 0.6
# A late joiner that asks for everything since the start of the load.
first=$(psql -c "SELECT min(id) - 1 FROM spool.event_log WHERE queue = 'load'")
stream late "/v1/events?queue=load" -H "Last-Event-ID: $first"
LATE=$STREAM_PID
wait $W1 $W2 $W3
want_last=$(psql -c "SELECT max(id) FROM spool.event_log WHERE queue = 'load'")
echo $(($(date +%s%N) / 1000000 + 1500)) >"$TMP/hop.stop"
wait_until 10 has_id "$TMP/full.sse" "$want_last"
wait_until 10 has_id "$TMP/late.sse" "$want_last"
wait $HOP
want=$(psql -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM spool.event_log WHERE queue = 'load'")
n_want=$(psql -c "SELECT count(*) FROM spool.event_log WHERE queue = 'load'")
for s in full late hop; do
    got=$(ids_of "$TMP/$s.sse" | paste -sd,)
    check "no gap, no duplicate, in order: stream '$s' has all $n_want events of 3 concurrent writers" \
        "got $(ids_of "$TMP/$s.sse" | wc -l) ids, $(ids_of "$TMP/$s.sse" | sort | uniq -d | wc -l) duplicated; missing: $(comm -23 <(tr , '\n' <<<"$want" | sort) <(ids_of "$TMP/$s.sse" | sort -u) | head -5 | paste -sd' ')" \
        eval '[ "$got" = "$want" ]'
done
check "the reconnecting stream did reconnect (several responses)" "" \
    eval '[ "$(grep -c "^retry: 2000" "$TMP/hop.sse")" -ge 5 ]'
kill "$FULL" "$LATE" 2>/dev/null

oldest=$(psql -c "SELECT min(id) FROM spool.event_log")
psql -c "DELETE FROM spool.event_log WHERE id < $oldest + 3" >/dev/null
curl -sN --max-time 1 -H "Authorization: Bearer $ADMIN" -H "Last-Event-ID: $oldest" "$BASE/v1/events" \
    >"$TMP/pruned.sse" 2>/dev/null
check "a Last-Event-ID older than the log: a first comment says so, then the oldest events" \
    "$(head -c 400 "$TMP/pruned.sse")" \
    eval 'sed -n 3p "$TMP/pruned.sse" | grep -q "^: events .* were pruned" && [ "$(ids_of "$TMP/pruned.sse" | head -1)" = "$((oldest + 3))" ]'

# ---- per-job stream: ends after the final event -------------------------------------------------------
JB=$(psql -c "SELECT id FROM spool.submit('sse_t', queue => 'perjob', priority => 100)")
stream job "/v1/jobs/$JB/events" --max-time 15
JOBS=$STREAM_PID
wait_until 5 stream_up "$TMP/job.sse"
psql -c "SELECT count(*) FROM spool.claim('w-sse', '{}', 1, 60)" >/dev/null
tok=$(psql -c "SELECT lease_token FROM spool.job_live WHERE id = '$JB'")
psql -c "SELECT count(*) FROM spool.complete('$JB', '$tok', '{\"ok\":true}')" >/dev/null
wait_until 5 eval '! kill -0 $JOBS 2>/dev/null'
wait "$JOBS" 2>/dev/null
job_rc=$?
check "per-job stream: history, live events of its (batch) rows, ends after completed" \
    "rc=$job_rc $(grep -E '^(event|data)' "$TMP/job.sse" | head -10)" \
    eval '[ $job_rc = 0 ] && grep -q "^event: submitted" "$TMP/job.sse" && grep -q "^event: claimed" "$TMP/job.sse" && [ "$(grep "^event: " "$TMP/job.sse" | tail -1)" = "event: completed" ]'

final_id=$(grep '^id: ' "$TMP/job.sse" | tail -1 | cut -d' ' -f2)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $ADMIN" \
    -H "Last-Event-ID: $final_id" "$BASE/v1/jobs/$JB/events")
check "per-job stream resumed after its final event: 204 (EventSource stops reconnecting)" "code=$code" \
    eval '[ "$code" = 204 ]'

# ---- max_subscribers --------------------------------------------------------------------------------
CPORT=$(free_port)
start_spoold "$CPORT" --sse-max-subscribers 2 || exit 1
CAP_PID=$SPID
for i in 1 2; do
    curl -sN --max-time 10 -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$CPORT/v1/events" >/dev/null 2>&1 &
    PIDS+=($!)
done
wait_until 5 eval '[ "$(subscribers "$CPORT")" = 2 ]'
cap=$(curl -s --max-time 3 -w '\n%{http_code}' -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$CPORT/v1/events")
check "beyond max_subscribers: 503 too_many_subscribers" "$cap" \
    eval '[ "$(tail -1 <<<"$cap")" = 503 ] && head -1 <<<"$cap" | jq -e ".error.code == \"too_many_subscribers\" and (.error.message | length > 0)" >/dev/null'
kill -TERM "$CAP_PID"; wait "$CAP_PID" 2>/dev/null

# ---- slow subscriber: dropped, memory bounded ---------------------------------------------------------
SPORT=$(free_port)
start_spoold "$SPORT" --sse-queue-events 16 || exit 1
SLOW_PID=$SPID
python3 - "$SPORT" "$ADMIN" >"$TMP/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
time.sleep(20)   # never reads
PY
SLOWC=$!
PIDS+=("$SLOWC")
wait_until 5 eval '[ "$(subscribers "$SPORT")" = 1 ]'
rss0=$(awk '/VmRSS/ {print $2}' /proc/$SLOW_PID/status)
for _ in 1 2 3; do
    psql -c "DO \$\$ BEGIN FOR i IN 1..2000 LOOP PERFORM spool.submit('sse_t', queue => 'flood', payload => jsonb_build_object('pad', repeat('x', 1000))); END LOOP; END \$\$" >/dev/null
done
dropped=0
for _ in $(seq 50); do
    dropped=$(curl -s "http://127.0.0.1:$SPORT/metrics" | awk '/^spool_sse_dropped_total/ {print $2}')
    [ "${dropped:-0}" -ge 1 ] && break
    sleep 0.1
done
sleep 0.5
rss1=$(awk '/VmRSS/ {print $2}' /proc/$SLOW_PID/status)
check "slow subscriber: dropped (spool_sse_dropped_total=$dropped)" "" eval '[ "${dropped:-0}" -ge 1 ]'
check "slow subscriber: spoold RSS grew $((rss1 - rss0)) kB for ~6 MB of events (< 10 MB)" "" \
    eval '[ $((rss1 - rss0)) -lt 10240 ]'
kill "$SLOWC" 2>/dev/null
kill -TERM "$SLOW_PID"; wait "$SLOW_PID" 2>/dev/null

# ---- live streams on the writer threads: a client that leaves, one that stops reading --------------
# A client that never reads, with events enough to fill its socket but not its queue.
stuck_client() { # stuck_client PORT: prints its output to $TMP/stuck-PORT.out
    python3 - "$1" "$ADMIN" >"$TMP/stuck-$1.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /v1/events?queue=stuck HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
time.sleep(30)   # never reads
PY
    STUCK_PID=$!
    PIDS+=("$STUCK_PID")
}
flood_stuck() { # ~9 MB of frames: more than a socket's send buffer grows to (tcp_wmem: 4 MB)
    psql -c "INSERT INTO spool.event_log (job_id, kind, status, type, queue, data) SELECT gen_random_uuid(), 'progress', 'running', 'sse_t', 'stuck', jsonb_build_object('pad', repeat('x', 1200)) FROM generate_series(1, 7000)" >/dev/null
}
WPORT=$(free_port)
start_spoold "$WPORT" --request-timeout 2s --sse-queue-events 100000 --sse-threads 2 || exit 1
W_PID=$SPID
curl -sN --max-time 30 -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$WPORT/v1/events" >/dev/null 2>&1 &
GONE=$!
PIDS+=("$GONE")
wait_until 5 eval '[ "$(subscribers "$WPORT")" = 1 ]'
kill "$GONE"
t0=$(date +%s%N)
wait_until 5 eval '[ "$(subscribers "$WPORT")" = 0 ]'
t1=$(date +%s%N)
check "a client that goes away: its live stream ends at once ($(((t1 - t0) / 1000000)) ms, no event sent)" \
    "subscribers=$(subscribers "$WPORT")" eval '[ "$(subscribers "$WPORT")" = 0 ] && [ $(((t1 - t0) / 1000000)) -lt 1000 ]'
stuck_client "$WPORT"
wait_until 5 eval '[ "$(subscribers "$WPORT")" = 1 ]'
flood_stuck
t0=$(date +%s%N)
wait_until 10 eval '[ "$(subscribers "$WPORT")" = 0 ]'
t1=$(date +%s%N)
dropped=$(curl -s "http://127.0.0.1:$WPORT/metrics" | awk '/^spool_sse_dropped_total/ {print $2}')
check "a client that stops reading (queue not full) is let go after request_timeout ($(((t1 - t0) / 1000000)) ms after the flood)" \
    "subscribers=$(subscribers "$WPORT") dropped=$dropped $(grep stream_stalled "$TMP/spoold-$WPORT.log" | tail -1)" \
    eval '[ "$(subscribers "$WPORT")" = 0 ] && [ "${dropped:-1}" = 0 ] && grep -q stream_stalled "$TMP/spoold-$WPORT.log"'
kill "$STUCK_PID" 2>/dev/null
kill -TERM "$W_PID"; wait "$W_PID" 2>/dev/null
# SIGTERM while a stream's socket is full: it gets a short flush, then spoold exits.
WPORT=$(free_port)
start_spoold "$WPORT" --sse-queue-events 100000 || exit 1
W_PID=$SPID
stuck_client "$WPORT"
wait_until 5 eval '[ "$(subscribers "$WPORT")" = 1 ]'
flood_stuck
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$W_PID"
wait_until 10 eval '! kill -0 "$W_PID" 2>/dev/null'
kill -0 "$W_PID" 2>/dev/null && kill -9 "$W_PID"
wait "$W_PID"
w_rc=$?
t1=$(date +%s%N)
check "SIGTERM with a client that does not read: spoold exits 0 in $(((t1 - t0) / 1000000)) ms" "rc=$w_rc" \
    eval '[ "$w_rc" = 0 ] && [ $(((t1 - t0) / 1000000)) -lt 5000 ]'
kill "$STUCK_PID" 2>/dev/null

# ---- PostgreSQL restart: LISTEN re-established, catch-up read, streams survive -------------------------
stream restart "/v1/events?queue=restart" --max-time 60
RST=$STREAM_PID
wait_until 5 stream_up "$TMP/restart.sse"
psql -c "SELECT id FROM spool.submit('sse_t', queue => 'restart')" >/dev/null
"$ROOT/scripts/pg.sh" stop "$TMP/pg" >/dev/null
sleep 2
PGPORT_=$(cat "$TMP/pg/port")
"$ROOT/scripts/pg.sh" start "$TMP/pg" "$PGPORT_" >/dev/null || { echo "could not restart PostgreSQL"; exit 1; }
# Written right away, most likely before the hub is back: only its catch-up read finds these.
for _ in 1 2 3; do
    psql -c "SELECT id FROM spool.submit('sse_t', queue => 'restart')" >/dev/null 2>&1 || sleep 0.2
done
want_r=$(psql -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM spool.event_log WHERE queue = 'restart'")
wait_until 15 has_id "$TMP/restart.sse" "${want_r##* }"
check "database restart: the open stream gets every event, before and after (catch-up read)" \
    "want=[$want_r] got=[$(ids_of "$TMP/restart.sse" | paste -sd' ')]" \
    eval '[ "$(ids_of "$TMP/restart.sse" | paste -sd" ")" = "$want_r" ]'
check "database restart: the hub logged the lost and restored LISTEN" "$(grep events "$TMP/spoold-$PORT.log" | tail -5)" \
    eval 'grep -q "listen_lost" "$TMP/spoold-$PORT.log" && grep -q "listen_restored" "$TMP/spoold-$PORT.log"'
psql -c "SELECT id FROM spool.submit('sse_t', queue => 'restart')" >/dev/null
last_r=$(psql -c "SELECT max(id) FROM spool.event_log WHERE queue = 'restart'")
wait_until 5 has_id "$TMP/restart.sse" "$last_r"
check "database restart: live again afterwards" "" has_id "$TMP/restart.sse" "$last_r"

# ---- SIGTERM: every stream ends cleanly ------------------------------------------------------------
stream term1 "/v1/events" --max-time 30
T1=$STREAM_PID
JT=$(psql -c "SELECT id FROM spool.submit('sse_t', queue => 'term')")
stream term2 "/v1/jobs/$JT/events" --max-time 30
T2=$STREAM_PID
stream term3 "/v1/events?queue=nothing-ever" --max-time 30
T3=$STREAM_PID
wait_until 5 eval 'stream_up "$TMP/term1.sse" && stream_up "$TMP/term2.sse" && stream_up "$TMP/term3.sse"'
sleep 0.3 # idle: their connections are suspended now
t0=$(date +%s%N)
kill -TERM "$MAIN_PID"
wait_until 10 eval '! kill -0 "$MAIN_PID" 2>/dev/null'
kill -0 "$MAIN_PID" 2>/dev/null && kill -9 "$MAIN_PID"
wait "$MAIN_PID"
term_rc=$?
t1=$(date +%s%N)
rcs=""
for p in $T1 $T2 $T3; do wait "$p"; rcs="$rcs $?"; done
check "SIGTERM: spoold exits 0 in $(((t1 - t0) / 1000000)) ms with streams open" "rc=$term_rc" \
    eval '[ "$term_rc" = 0 ] && [ $(((t1 - t0) / 1000000)) -lt 5000 ]'
check "SIGTERM: every stream's response ends cleanly (curl exit 0)" "curl exits:$rcs" \
    eval '[ "$rcs" = " 0 0 0" ]'

echo "# sse: $passed passed, $failed failed"
[ "$failed" = 0 ]
