#!/usr/bin/env bash
# Integration test of spool-worker: real worker processes against a real PostgreSQL.
#   SPOOL_TEST_DATABASE_URL=postgresql://... tests/integration/test_worker.sh \
#       path/to/spool-worker path/to/spool
# Skips (exit 77) when SPOOL_TEST_DATABASE_URL is unset. Works in a scratch database of its
# own (spool_wrk_<pid>, dropped at the end) and, for the restart test, in a private cluster
# started with scripts/pg.sh (skipped when that cannot start). Leases are short (2 s) so the
# fault tests run in seconds.
#
#  1. end to end: jobs submitted through SQL are claimed, run and completed by two workers,
#     each exactly once; progress, capabilities and an output file are recorded
#  2. cancellation through heartbeat; a job past its timeout fails (retryable) and ends dead
#  3. kill -9 a worker holding jobs: they are rescued after the lease and run again elsewhere
#  4. SIGSTOP a worker past its lease, SIGCONT: its late results are refused, each job is
#     completed exactly once (by the other worker), the stopped worker survives
#  5. SIGTERM under load: short jobs drain, long ones are released (no attempt burned), exit 0;
#     a second SIGTERM releases at once
#  6. the http connector against a stand-in that answers 500, hangs, closes connections, 404:
#     bounded retries, the right outcome for each, the worker survives
#  7. exec: result from stdout, exit 65 is permanent, cancel and exec_timeout kill the process
#     group
#  8. PostgreSQL restart under load (private cluster): workers reconnect and finish everything
#  9. configuration errors stop start-up with a precise message; --check reports
set -uo pipefail

WORKER=${1:?usage: test_worker.sh path/to/spool-worker path/to/spool}
SPOOL=${2:?usage: test_worker.sh path/to/spool-worker path/to/spool}
if [ -z "${SPOOL_TEST_DATABASE_URL:-}" ]; then
    echo "SPOOL_TEST_DATABASE_URL is not set: skipping"
    exit 77
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORKER=$(cd "$(dirname "$WORKER")" && pwd)/$(basename "$WORKER")
SPOOL=$(cd "$(dirname "$SPOOL")" && pwd)/$(basename "$SPOOL")
TMP=$(mktemp -d /tmp/spool-wrk-test.XXXXXX)
chmod 755 "$TMP"
SCRATCH="spool_wrk_$$"
ADMIN_URL=$SPOOL_TEST_DATABASE_URL
unset SPOOL_DATABASE_URL SPOOL_CONFIG SPOOL_LOG_LEVEL
for v in $(env | sed -n 's/^\(SPOOL_WORKER_[A-Z_0-9]*\)=.*/\1/p'); do unset "$v"; done

passed=0
failed=0
PIDS=()
PGDIR=

# url_with_db URL DB: the same server, another database.
url_with_db() {
    python3 - "$1" "$2" <<'PY'
import sys, urllib.parse as u
url, db = sys.argv[1], sys.argv[2]
if url.startswith(("postgres://", "postgresql://")):
    p = u.urlsplit(url)
    print(u.urlunsplit((p.scheme, p.netloc, "/" + db, p.query, p.fragment)))
else:
    print(url + " dbname=" + db)
PY
}

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
    wait 2>/dev/null
    psql "$ADMIN_URL" -qAtX -c "DROP DATABASE IF EXISTS $SCRATCH" >/dev/null 2>&1
    [ -n "$PGDIR" ] && bash "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1
    if [ "$failed" = 0 ]; then rm -rf "$TMP"; else echo "# logs kept in $TMP"; fi
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && echo "    $2"
}
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
q() { psql "$DB" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# gone PID: true once the process no longer exists (or is a zombie waiting to be reaped by
# whoever inherited it), waiting up to 3 s.
gone() {
    local i
    [ -n "$1" ] || return 1
    for i in $(seq 1 30); do
        kill -0 "$1" 2>/dev/null || return 0
        [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_for SECONDS SQL: polls until SQL returns t.
wait_for() {
    local deadline=$((SECONDS + $1)) sql=$2
    while [ $SECONDS -lt $deadline ]; do
        [ "$(q "$sql" 2>/dev/null)" = t ] && return 0
        sleep 0.2
    done
    return 1
}

# wait_port PORT: waits up to 10 s for a stand-in to accept connections on 127.0.0.1:PORT.
wait_port() {
    local i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# start_worker NAME [VAR=VALUE...]: starts a worker in the background with test settings.
start_worker() {
    local name=$1
    shift
    env SPOOL_WORKER_DATABASE_URL="$DB" SPOOL_WORKER_ID="$name" SPOOL_WORKER_LEASE=2s \
        SPOOL_WORKER_HEARTBEAT_INTERVAL=500ms SPOOL_WORKER_POLL_INTERVAL=200ms \
        SPOOL_WORKER_PROGRESS_INTERVAL=100ms SPOOL_WORKER_GPU_DETECT=off \
        SPOOL_WORKER_OUTPUT_DIR="$TMP/out" SPOOL_WORKER_RECONNECT_MAX=1s "$@" \
        "$WORKER" >>"$TMP/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# stop_worker PID [SECONDS]: SIGTERM and wait; sets STOP_RC (124 when it did not exit).
stop_worker() {
    kill -TERM "$1" 2>/dev/null
    wait_exit "$@"
}

# wait_exit PID [SECONDS]: waits for the worker to exit (SIGKILL past the limit); STOP_RC.
wait_exit() {
    local pid=$1 limit=${2:-20} t=0
    STOP_RC=
    while kill -0 "$pid" 2>/dev/null && [ $t -lt $((limit * 10)) ]; do
        sleep 0.1
        t=$((t + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        STOP_RC=124
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    local rc=$?
    [ "${STOP_RC:-}" = 124 ] || STOP_RC=$rc
}

# submit TYPE COUNT PAYLOAD [SERVICE] [EXTRA KEYS JSON]: jobs through spool.submit_many.
submit() {
    local type=$1 n=$2 payload=$3 service=${4:-simulation} extra=${5:-\{\}}
    q "SELECT count(*) FROM spool.submit_many((SELECT jsonb_agg(jsonb_build_object('type', '$type',
        'service_required', '$service', 'payload', '$payload'::jsonb) || '$extra'::jsonb)
        FROM generate_series(1, $n)))" >/dev/null
}

# ---- scratch database --------------------------------------------------------------------
if ! psql "$ADMIN_URL" -qAtX -c "CREATE DATABASE $SCRATCH" >/dev/null 2>&1; then
    echo "# could not create a scratch database (needs CREATEDB): skipping"
    exit 77
fi
DB=$(url_with_db "$ADMIN_URL" "$SCRATCH")
"$SPOOL" --database-url "$DB" migrate >/dev/null || { not_ok "migrate the scratch database"; exit 1; }
q "SELECT spool.register_type('sim', max_attempts => 3, backoff_base_seconds => 0.2,
        backoff_max_seconds => 1)" >/dev/null

# ---- 1. end to end ---------------------------------------------------------------------------
start_worker e2e-a SPOOL_WORKER_BATCH_SIZE=200
A=$LAST_PID
start_worker e2e-b SPOOL_WORKER_BATCH_SIZE=50 SPOOL_WORKER_CONCURRENCY=8
B=$LAST_PID
# Both idle and listening before the work arrives: NOTIFY wakes them together.
wait_for 20 "SELECT count(*) = 2 FROM spool.workers WHERE id IN ('e2e-a', 'e2e-b')" >/dev/null
sleep 0.3
submit sim 20 '{"duration_ms": 300, "steps": 3}'
submit sim 2000 '{}'
submit sim 1 '{"output": true, "result": {"hello": "world"}}'
check "e2e: 2021 jobs completed" wait_for 60 \
    "SELECT count(*) = 2021 FROM spool.jobs WHERE type = 'sim' AND status = 'completed'"
check "e2e: every job ran once (attempts = 1)" test "$(q "SELECT count(*) FROM spool.jobs
    WHERE type = 'sim' AND attempts <> 1")" = 0
check "e2e: one completed event per job" test "$(q "SELECT count(*) FROM (SELECT e.job_id
    FROM spool.events e WHERE e.kind = 'completed' GROUP BY e.job_id HAVING count(*) <> 1) x")" = 0
check "e2e: both workers took jobs" test "$(q "SELECT count(DISTINCT worker_id) FROM spool.jobs
    WHERE type = 'sim'")" = 2
check "e2e: progress of stepped jobs was recorded" test "$(q "SELECT count(DISTINCT e.job_id)
    FROM spool.events e JOIN spool.jobs j ON j.id = e.job_id
    WHERE e.kind = 'progress' AND j.payload ? 'steps'")" -ge 10
check "e2e: the worker registered its capabilities" test "$(q "SELECT capabilities->'services' ? 'simulation'
    AND (capabilities->'hardware'->>'cpu_cores')::int >= 1 AND transport = 'pg'
    FROM spool.workers WHERE id = 'e2e-a'")" = t
check "e2e: the payload's result is the job's result" test "$(q "SELECT result->>'hello'
    FROM spool.jobs WHERE payload ? 'output'")" = world
out_url=$(q "SELECT result->'outputs'->0->>'url' FROM spool.jobs WHERE payload ? 'output'")
check "e2e: an output is stored with its media type and size" test "$(q "SELECT
    result->'outputs'->0->>'media_type' = 'image/png' AND (result->'outputs'->0->>'width')::int = 1
    FROM spool.jobs WHERE payload ? 'output'")" = t
check "e2e: the output file exists at its URL" test -s "${out_url#file://}"
stop_worker "$A"
check "e2e: SIGTERM on an idle worker exits 0" test "$STOP_RC" = 0
stop_worker "$B"
check "e2e: logs name job, attempt and worker" grep -q "event=job_completed job=[0-9a-f-]* attempt=1 worker=e2e-" "$TMP/e2e-a.log"
check "e2e: no secret in the logs" eval "! grep -qi 'password\\|postgresql://' $TMP/e2e-a.log"

# ---- 2. cancellation and timeout -----------------------------------------------------------
q "SELECT spool.register_type('once', max_attempts => 1)" >/dev/null
start_worker ct SPOOL_WORKER_CONCURRENCY=4
C=$LAST_PID
cid=$(q "SELECT id FROM spool.submit(type => 'sim', service_required => 'simulation',
    payload => '{\"duration_ms\": 60000}')")
wait_for 10 "SELECT status = 'running' FROM spool.jobs WHERE id = '$cid'" >/dev/null
q "SELECT 1 FROM spool.cancel('$cid', reason => 'not needed')" >/dev/null
check "cancel: a running job ends cancelled through heartbeat" wait_for 5 \
    "SELECT status = 'cancelled' FROM spool.jobs WHERE id = '$cid'"
check "cancel: the worker logged the request" grep -q "event=cancel_requested job=$cid" "$TMP/ct.log"
tid=$(q "SELECT id FROM spool.submit(type => 'once', service_required => 'simulation',
    payload => '{\"duration_ms\": 30000}', timeout_seconds => 1)")
check "timeout: a job past its timeout fails and, out of attempts, is dead" wait_for 10 \
    "SELECT status = 'dead' AND error LIKE 'timed out after 1 seconds%' FROM spool.jobs WHERE id = '$tid'"
rid=$(q "SELECT id FROM spool.submit(type => 'sim', service_required => 'simulation',
    payload => '{\"fail\": \"retryable\"}', max_attempts => 2)")
pid2=$(q "SELECT id FROM spool.submit(type => 'sim', service_required => 'simulation',
    payload => '{\"fail\": \"permanent\"}')")
q "SELECT spool.promote()" >/dev/null
check "failure: a permanent failure is dead after one attempt" wait_for 10 \
    "SELECT status = 'dead' AND attempts = 1 FROM spool.jobs WHERE id = '$pid2'"
for _ in $(seq 1 20); do q "SELECT spool.promote()" >/dev/null; sleep 0.2; done
check "failure: a retryable failure is retried, then dead" test "$(q "SELECT status || attempts
    FROM spool.jobs WHERE id = '$rid'")" = dead2
stop_worker "$C"

# ---- 3. kill -9 a worker holding jobs ---------------------------------------------------------
q "SELECT spool.register_type('k9', max_attempts => 5, backoff_base_seconds => 0.1,
        backoff_max_seconds => 0.5)" >/dev/null
submit k9 20 '{"duration_ms": 4000}'
start_worker k9-a SPOOL_WORKER_CONCURRENCY=20
K=$LAST_PID
wait_for 10 "SELECT count(*) = 20 FROM spool.jobs WHERE type = 'k9' AND status = 'running'
    AND worker_id = 'k9-a'" >/dev/null
kill -KILL "$K"
wait "$K" 2>/dev/null
start_worker k9-b SPOOL_WORKER_CONCURRENCY=20 SPOOL_WORKER_MAINTAIN_INTERVAL=300ms
KB=$LAST_PID
check "kill -9: every job is rescued and completed by the other worker" wait_for 30 \
    "SELECT count(*) = 20 FROM spool.jobs WHERE type = 'k9' AND status = 'completed' AND worker_id = 'k9-b'"
check "kill -9: each was attempted exactly twice (one rescue)" test "$(q "SELECT count(*) FROM spool.jobs
    WHERE type = 'k9' AND attempts = 2")" = 20
check "kill -9: the rescue recorded the lost lease" test "$(q "SELECT count(*) FROM spool.jobs
    WHERE type = 'k9' AND errors->0->>'error' LIKE 'lease expired%'")" = 20
stop_worker "$KB"

# ---- 4. SIGSTOP past the lease, then SIGCONT --------------------------------------------------
q "SELECT spool.register_type('stp', max_attempts => 5, backoff_base_seconds => 0.1,
        backoff_max_seconds => 0.5)" >/dev/null
submit stp 10 '{"duration_ms": 2500}'
start_worker stp-a SPOOL_WORKER_CONCURRENCY=10
S=$LAST_PID
wait_for 10 "SELECT count(*) = 10 FROM spool.jobs WHERE type = 'stp' AND status = 'running'" >/dev/null
sleep 0.5
kill -STOP "$S"
start_worker stp-b SPOOL_WORKER_CONCURRENCY=10 SPOOL_WORKER_MAINTAIN_INTERVAL=300ms
SB=$LAST_PID
check "sigstop: the other worker completes every job after the lease expires" wait_for 30 \
    "SELECT count(*) = 10 FROM spool.jobs WHERE type = 'stp' AND status = 'completed'"
kill -CONT "$S"
sleep 4
check "sigstop: each job was completed exactly once, by the worker that held the lease" test \
    "$(q "SELECT count(*) FROM spool.jobs WHERE type = 'stp' AND status = 'completed' AND worker_id = 'stp-b'")" = 10
check "sigstop: one completed event per job" test "$(q "SELECT count(*) FROM spool.events e
    JOIN spool.jobs j ON j.id = e.job_id WHERE j.type = 'stp' AND e.kind = 'completed'")" = 10
check "sigstop: the stale worker's late results were refused and logged" \
    grep -qE "event=(completion_refused|lease_lost|failure_refused|job_dropped)" "$TMP/stp-a.log"
check "sigstop: the stale worker survives" kill -0 "$S"
stop_worker "$S"
check "sigstop: and exits 0 on SIGTERM" test "$STOP_RC" = 0
stop_worker "$SB"

# The refusal itself, deterministically: the lease of a running job is replaced behind the
# worker's back (as a rescue and re-claim would) before its next heartbeat; its completion
# must be refused by the core, logged, and change nothing.
start_worker ref-a SPOOL_WORKER_LEASE=60s SPOOL_WORKER_HEARTBEAT_INTERVAL=30s
RF=$LAST_PID
wait_for 10 "SELECT count(*) = 1 FROM spool.workers WHERE id = 'ref-a'" >/dev/null
sleep 1.5 # past the heartbeat sent at connection
fid=$(q "SELECT id FROM spool.submit(type => 'stp', service_required => 'simulation',
    payload => '{\"duration_ms\": 1500}')")
wait_for 10 "SELECT status = 'running' FROM spool.jobs WHERE id = '$fid'" >/dev/null
q "UPDATE spool.job_live SET lease_token = gen_random_uuid() WHERE id = '$fid'" >/dev/null
sleep 3
check "refused: a completion under a replaced lease is refused and logged plainly" \
    grep -q "event=completion_refused job=$fid attempt=1 worker=ref-a" "$TMP/ref-a.log"
check "refused: and changes nothing" test "$(q "SELECT status FROM spool.jobs WHERE id = '$fid'")" = running
q "SELECT 1 FROM spool.cancel('$fid')" >/dev/null
stop_worker "$RF"

# ---- 5. SIGTERM under load ------------------------------------------------------------------
q "SELECT spool.register_type('term', max_attempts => 3)" >/dev/null
submit term 4 '{"duration_ms": 800}'
submit term 4 '{"duration_ms": 20000}'
start_worker term-a SPOOL_WORKER_CONCURRENCY=8 SPOOL_WORKER_SHUTDOWN_GRACE=3s SPOOL_WORKER_LEASE=30s \
    SPOOL_WORKER_HEARTBEAT_INTERVAL=1s
T=$LAST_PID
wait_for 10 "SELECT count(*) = 8 FROM spool.jobs WHERE type = 'term' AND status = 'running'" >/dev/null
submit term 50 '{}' # more work that must not be claimed once draining
t0=$SECONDS
kill -TERM "$T"
wait_exit "$T" 15
check "sigterm: exit 0" test "$STOP_RC" = 0
check "sigterm: within the grace period (+ margin)" test $((SECONDS - t0)) -le 7
check "sigterm: short jobs drained to completion" test "$(q "SELECT count(*) FROM spool.jobs
    WHERE type = 'term' AND status = 'completed' AND payload->>'duration_ms' = '800'")" = 4
check "sigterm: long jobs released: pending at once, no attempt burned" test "$(q "SELECT count(*)
    FROM spool.jobs WHERE type = 'term' AND status = 'pending' AND attempts = 0
    AND payload->>'duration_ms' = '20000'")" = 4
check "sigterm: nothing left running" test "$(q "SELECT count(*) FROM spool.jobs
    WHERE type = 'term' AND status = 'running'")" = 0
check "sigterm: released events recorded" test "$(q "SELECT count(*) FROM spool.events e
    JOIN spool.jobs j ON j.id = e.job_id WHERE j.type = 'term' AND e.kind = 'released'")" -ge 4
q "SELECT count(spool.cancel(id)) FROM spool.jobs WHERE type = 'term' AND status = 'pending'" >/dev/null
submit term 3 '{"duration_ms": 20000}'
start_worker term-b SPOOL_WORKER_CONCURRENCY=3 SPOOL_WORKER_SHUTDOWN_GRACE=60s SPOOL_WORKER_LEASE=30s \
    SPOOL_WORKER_HEARTBEAT_INTERVAL=1s
T2=$LAST_PID
wait_for 10 "SELECT count(*) = 3 FROM spool.jobs WHERE type = 'term' AND status = 'running'" >/dev/null
t0=$SECONDS
kill -TERM "$T2"
sleep 0.5
stop_worker "$T2" 10 # the second SIGTERM
check "second sigterm: releases at once and exits 0" test "$STOP_RC/$((SECONDS - t0 <= 4))" = 0/1
check "second sigterm: the jobs are pending again" test "$(q "SELECT count(*) FROM spool.jobs
    WHERE type = 'term' AND status = 'pending' AND attempts = 0")" = 3
q "SELECT count(spool.cancel(id)) FROM spool.jobs WHERE type = 'term' AND status = 'pending'" >/dev/null

# ---- 6. http connector against a misbehaving stand-in ----------------------------------------
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/standin.py" <<'PY'
import http.server, json, socketserver, sys, time
hits = {}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path == "/hits":
            return self.reply(200, json.dumps(hits))
        if self.path.startswith("/ok"):
            return self.reply(200, json.dumps({"echo": json.loads(body) if body else None,
                                               "method": self.command,
                                               "auth": self.headers.get("Authorization")}))
        if self.path == "/text":
            return self.reply(200, "plain words", "text/plain")
        if self.path == "/500":
            return self.reply(500, json.dumps({"error": {"message": "internal kaboom"}}))
        if self.path == "/404":
            return self.reply(404, json.dumps({"detail": "no such thing"}))
        if self.path == "/hang":
            time.sleep(30)
            return
        if self.path == "/close":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.reply(400, "{}")
    do_GET = do_POST = do_PUT = handle_any
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$TMP/standin.py" "$HTTP_PORT" >"$TMP/standin.log" 2>&1 &
PIDS+=("$!")
wait_port "$HTTP_PORT" || not_ok "http: the stand-in did not start"
H="http://127.0.0.1:$HTTP_PORT"
q "SELECT spool.register_type('web', max_attempts => 2, backoff_base_seconds => 0.1,
        backoff_max_seconds => 0.2)" >/dev/null
q "SELECT spool.register_type('web_tpl', max_attempts => 1)" >/dev/null
start_worker http-a SPOOL_WORKER_CONNECTORS=http SPOOL_WORKER_HTTP_TIMEOUT=1 \
    SPOOL_WORKER_MAINTAIN_INTERVAL=200ms \
    SPOOL_WORKER_HTTP_TEMPLATES="{\"web_tpl\": {\"method\": \"POST\", \"url\": \"$H/ok/{{name}}\", \"headers\": {\"Authorization\": \"Bearer {{token}}\"}, \"body\": {\"n\": \"{{n}}\", \"fixed\": 1}}}"
W=$LAST_PID
jid() { q "SELECT id FROM spool.submit(type => '$1', service_required => 'http', payload => '$2')"; }
ok_id=$(jid web "{\"url\": \"$H/ok\", \"method\": \"POST\", \"body\": {\"a\": 1}}")
text_id=$(jid web "{\"url\": \"$H/text\"}")
e500=$(jid web "{\"url\": \"$H/500\"}")
hang=$(jid web "{\"url\": \"$H/hang\"}")
closed=$(jid web "{\"url\": \"$H/close\"}")
e404=$(jid web "{\"url\": \"$H/404\"}")
bad=$(jid web '{"url": "file:///etc/passwd"}')
tpl=$(jid web_tpl '{"name": "a b", "token": "t0k", "n": 42}')
check "http: 2xx JSON completes with the body as result" wait_for 15 \
    "SELECT status = 'completed' AND result->'echo'->>'a' = '1' FROM spool.jobs WHERE id = '$ok_id'"
check "http: a text body becomes a JSON string" wait_for 5 \
    "SELECT status = 'completed' AND result #>> '{}' = 'plain words' FROM spool.jobs WHERE id = '$text_id'"
check "http: 500 is retried, then dead with the service's message" wait_for 20 \
    "SELECT status = 'dead' AND attempts = 2 AND error LIKE '%500%internal kaboom%' FROM spool.jobs WHERE id = '$e500'"
check "http: a hanging service times out, retried, then dead" wait_for 20 \
    "SELECT status = 'dead' AND attempts = 2 FROM spool.jobs WHERE id = '$hang'"
check "http: a closed connection is retried, then dead" wait_for 20 \
    "SELECT status = 'dead' AND attempts = 2 FROM spool.jobs WHERE id = '$closed'"
check "http: 404 is permanent (one attempt)" wait_for 10 \
    "SELECT status = 'dead' AND attempts = 1 AND error LIKE '%404%' FROM spool.jobs WHERE id = '$e404'"
check "http: a non-http URL is refused permanently" wait_for 10 \
    "SELECT status = 'dead' AND attempts = 1 AND error LIKE '%not allowed%' FROM spool.jobs WHERE id = '$bad'"
check "http: a per-type template fills url, headers and body from the payload" wait_for 10 \
    "SELECT status = 'completed' AND result->>'auth' = 'Bearer t0k' AND result->'echo'->>'n' = '42'
     AND result->'echo'->>'fixed' = '1' FROM spool.jobs WHERE id = '$tpl'"
hits=$(curl -s "$H/hits")
check "http: retries are bounded by the job's attempts" test "$(echo "$hits" | jq '.["/500"]')" = 2
check "http: the worker survives it all" kill -0 "$W"
after=$(jid web "{\"url\": \"$H/ok\"}")
check "http: and still completes jobs" wait_for 10 "SELECT status = 'completed' FROM spool.jobs WHERE id = '$after'"
stop_worker "$W"

# ---- 7. exec ------------------------------------------------------------------------------------
cat >"$TMP/job.sh" <<'SH'
#!/bin/bash
# Test command: reads the payload, follows its instructions.
payload=$(cat)
mode=$(echo "$payload" | jq -r '.mode // "echo"')
case $mode in
echo) echo "$payload" | jq -c '{got: ., job: env.SPOOL_JOB_ID, leaked: (env.SPOOL_WORKER_DATABASE_URL // null)}' ;;
text) echo "just text" ;;
bad) echo "payload is missing things" >&2; exit 65 ;;
flaky) echo "try later" >&2; exit 3 ;;
sleep)
    sleep 600 &
    echo $! >"$(echo "$payload" | jq -r .pidfile)"
    wait ;;
esac
SH
chmod +x "$TMP/job.sh"
q "SELECT spool.register_type('ex', max_attempts => 3, backoff_base_seconds => 0.1,
        backoff_max_seconds => 0.2)" >/dev/null
q "SELECT spool.register_type('ex1', max_attempts => 1)" >/dev/null
start_worker exec-a SPOOL_WORKER_CONNECTORS=exec SPOOL_WORKER_EXEC_COMMAND="$TMP/job.sh" \
    SPOOL_WORKER_EXEC_CONCURRENCY=4 SPOOL_WORKER_EXEC_KILL_GRACE=300
X=$LAST_PID
xid() { q "SELECT id FROM spool.submit(type => '$1', service_required => 'exec', payload => '$2')"; }
e1=$(xid ex '{"mode": "echo", "x": 5}')
e2=$(xid ex '{"mode": "text"}')
e3=$(xid ex '{"mode": "bad"}')
e4=$(xid ex "{\"mode\": \"sleep\", \"pidfile\": \"$TMP/sleep.pid\"}")
check "exec: stdout JSON is the result; the payload came on stdin" wait_for 10 \
    "SELECT status = 'completed' AND (result->'got'->>'x')::int = 5 AND result->>'job' = id::text
     FROM spool.jobs WHERE id = '$e1'"
check "exec: the worker's secrets are not in the command's environment" test \
    "$(q "SELECT result->>'leaked' IS NULL FROM spool.jobs WHERE id = '$e1'")" = t
check "exec: text stdout is a JSON string" wait_for 5 \
    "SELECT result #>> '{}' = 'just text' FROM spool.jobs WHERE id = '$e2'"
check "exec: exit 65 is a permanent failure with stderr in the error" wait_for 5 \
    "SELECT status = 'dead' AND attempts = 1 AND error LIKE '%status 65: payload is missing things%'
     FROM spool.jobs WHERE id = '$e3'"
wait_for 10 "SELECT status = 'running' FROM spool.jobs WHERE id = '$e4'" >/dev/null
for _ in $(seq 1 50); do [ -s "$TMP/sleep.pid" ] && break; sleep 0.1; done
child=$(cat "$TMP/sleep.pid" 2>/dev/null)
q "SELECT 1 FROM spool.cancel('$e4')" >/dev/null
check "exec: cancel ends the job cancelled" wait_for 5 "SELECT status = 'cancelled' FROM spool.jobs WHERE id = '$e4'"
check "exec: cancel killed the command's whole process group" gone "$child"
stop_worker "$X"
start_worker exec-b SPOOL_WORKER_CONNECTORS=exec SPOOL_WORKER_EXEC_COMMAND="$TMP/job.sh" \
    SPOOL_WORKER_EXEC_TIMEOUT=1 SPOOL_WORKER_EXEC_KILL_GRACE=300
X=$LAST_PID
rm -f "$TMP/sleep.pid"
e5=$(xid ex1 "{\"mode\": \"sleep\", \"pidfile\": \"$TMP/sleep.pid\"}")
check "exec: past exec_timeout the command is killed and the job fails" wait_for 10 \
    "SELECT status = 'dead' AND error LIKE '%exec_timeout%' FROM spool.jobs WHERE id = '$e5'"
child=$(cat "$TMP/sleep.pid" 2>/dev/null)
check "exec: the timed-out command's children are gone too" gone "$child"
stop_worker "$X"

# ---- 8. PostgreSQL restart under load --------------------------------------------------------
PGDIR="$TMP/pg"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if PGURL=$(bash "$ROOT/scripts/pg.sh" start "$PGDIR" "$PGPORT" 2>"$TMP/pgstart.err"); then
    MAIN_DB=$DB
    DB=$PGURL
    "$SPOOL" --database-url "$DB" migrate >/dev/null
    q "SELECT spool.register_type('rs', max_attempts => 10, backoff_base_seconds => 0.1,
            backoff_max_seconds => 0.5)" >/dev/null
    submit rs 3000 '{"duration_ms": 20}'
    start_worker rs-a SPOOL_WORKER_CONCURRENCY=16 SPOOL_WORKER_MAINTAIN_INTERVAL=500ms
    RA=$LAST_PID
    start_worker rs-b SPOOL_WORKER_CONCURRENCY=16
    RB=$LAST_PID
    wait_for 20 "SELECT count(*) > 300 FROM spool.jobs WHERE type = 'rs' AND status = 'completed'" >/dev/null
    bash "$ROOT/scripts/pg.sh" stop "$PGDIR"
    sleep 2
    bash "$ROOT/scripts/pg.sh" start "$PGDIR" "$PGPORT" >/dev/null 2>>"$TMP/pgstart.err"
    check "pg restart: every job completes after the restart" wait_for 90 \
        "SELECT count(*) = 3000 FROM spool.jobs WHERE type = 'rs' AND status = 'completed'"
    check "pg restart: no job ran more than its attempts allow; none lost" test "$(q "SELECT count(*)
        FROM spool.jobs WHERE type = 'rs'")" = 3000
    check "pg restart: the workers noticed and reconnected" eval \
        "grep -q event=database_lost $TMP/rs-a.log && grep -q event=connected $TMP/rs-a.log"
    check "pg restart: both workers survived" eval "kill -0 $RA && kill -0 $RB"
    stop_worker "$RA"
    stop_worker "$RB"
    DB=$MAIN_DB
else
    echo "ok - pg restart: SKIP (could not start a private cluster: $(head -c 200 "$TMP/pgstart.err"))"
fi

# ---- 8b. S3 output store against a stand-in that checks the SigV4 signature --------------------
S3_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/s3.py" <<'PY'
import hashlib, hmac, http.server, json, sys, urllib.parse
SECRET, REGION = "s3-secret-key", "eu-test-1"
objects, log = {}, []
def sign(key, msg): return hmac.new(key, msg.encode(), hashlib.sha256).digest()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def verify(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "): return "no sigv4 authorization"
        parts = dict(p.strip().split("=", 1) for p in auth[17:].split(","))
        ak, date, region, service, term = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        if ak != "AKTEST" or region != REGION or service != "s3": return "bad credential scope"
        path, _, query = self.path.partition("?")
        canon_q = "&".join(sorted(query.split("&"))) if query else ""
        headers = "".join("%s:%s\n" % (h, " ".join(self.headers.get(h, "").split())) for h in signed)
        payload_hash = self.headers.get("x-amz-content-sha256", "")
        creq = "\n".join([self.command, path, canon_q, headers, ";".join(signed), payload_hash])
        amzdate = self.headers.get("x-amz-date", "")
        scope = "/".join([date, region, service, term])
        sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = sign(sign(sign(sign(("AWS4" + SECRET).encode(), date), region), service), "aws4_request")
        if hmac.new(k, sts.encode(), hashlib.sha256).hexdigest() != parts["Signature"]:
            return "signature mismatch"
        return None
    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self):
        self.reply(403 if self.verify() else 200)
    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        why = self.verify()
        log.append({"path": self.path, "ok": why is None, "why": why, "size": len(body),
                    "type": self.headers.get("Content-Type")})
        if why: return self.reply(403, why.encode())
        objects[self.path] = body
        self.reply(200)
    def do_GET(self):
        if self.path == "/_log": return self.reply(200, json.dumps(log).encode())
        body = objects.get(self.path)
        self.reply(200 if body is not None else 404, body or b"")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$TMP/s3.py" "$S3_PORT" >"$TMP/s3.log" 2>&1 &
PIDS+=("$!")
wait_port "$S3_PORT" || not_ok "s3: the stand-in did not start"
S3ENV=(SPOOL_WORKER_OUTPUT_STORE=s3 SPOOL_WORKER_OUTPUT_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
       SPOOL_WORKER_OUTPUT_S3_BUCKET=outs SPOOL_WORKER_OUTPUT_S3_REGION=eu-test-1
       SPOOL_WORKER_OUTPUT_S3_ACCESS_KEY=AKTEST SPOOL_WORKER_OUTPUT_S3_SECRET_KEY=s3-secret-key
       SPOOL_WORKER_OUTPUT_S3_PREFIX=spool/)
start_worker s3-a "${S3ENV[@]}"
S3W=$LAST_PID
s3id=$(q "SELECT id FROM spool.submit(type => 'sim', service_required => 'simulation', payload => '{\"output\": true}')")
check "s3: the output is uploaded and its URL is in the result" wait_for 15 \
    "SELECT status = 'completed' AND result->'outputs'->0->>'url' =
            'http://127.0.0.1:$S3_PORT/outs/spool/' || id || '/pixel.png'
     FROM spool.jobs WHERE id = '$s3id'"
check "s3: the upload carried a valid SigV4 signature and the media type" eval \
    "curl -s http://127.0.0.1:$S3_PORT/_log | jq -e 'length == 1 and .[0].ok and .[0].type == \"image/png\" and .[0].size == 67' >/dev/null"
check "s3: the stored object holds the bytes" eval \
    "[ \"\$(curl -s http://127.0.0.1:$S3_PORT/outs/spool/$s3id/pixel.png | head -c 4 | tail -c 3)\" = PNG ]"
check "s3: the secret key is in no log line" eval "! grep -q s3-secret-key $TMP/s3-a.log"
stop_worker "$S3W"
env "${S3ENV[@]}" "$WORKER" --database-url "$DB" --check >"$TMP/check.out" 2>&1
check "s3: --check reaches the bucket" grep -q "output store .*ok s3 bucket outs" "$TMP/check.out"

# ---- 9. configuration ----------------------------------------------------------------------
"$WORKER" --database-url "$DB" --connectors simulation,gpu >"$TMP/cfg.out" 2>&1
rc=$?
check "config: an unknown connector stops start-up (exit 2) with a precise message" eval \
    "[ $rc = 2 ] && grep -q 'unknown connector \"gpu\"' $TMP/cfg.out"
printf 'batch_size = 0\n' >"$TMP/bad.conf"
"$WORKER" --database-url "$DB" --config "$TMP/bad.conf" >"$TMP/cfg.out" 2>&1
rc=$?
check "config: a bad value names the file and line" eval \
    "[ $rc = 2 ] && grep -q 'invalid value for batch_size in $TMP/bad.conf:1' $TMP/cfg.out"
SPOOL_WORKER_LEASE=10s SPOOL_WORKER_HEARTBEAT_INTERVAL=6s "$WORKER" --database-url "$DB" >"$TMP/cfg.out" 2>&1
check "config: a heartbeat longer than half the lease is refused" grep -q "more than half the lease" "$TMP/cfg.out"
SPOOL_WORKER_OUTPUT_DIR="$TMP/out" "$WORKER" --database-url "$DB" --check >"$TMP/check.out" 2>&1
check "--check: healthy setup exits 0 with a report" eval "grep -q 'result: ok' $TMP/check.out"
SPOOL_WORKER_OUTPUT_DIR="$TMP/out" "$WORKER" --database-url "postgresql://nobody:s3cret@127.0.0.1:1/x" \
    --check >"$TMP/check.out" 2>&1
rc=$?
check "--check: an unreachable database exits 1 and hides the password" eval \
    "[ $rc = 1 ] && grep -q 'database .*FAIL' $TMP/check.out && ! grep -q s3cret $TMP/check.out"
"$WORKER" --help >"$TMP/help.out" 2>&1
check "--help lists the settings" grep -q "shutdown_grace" "$TMP/help.out"

echo "# $passed passed, $failed failed"
[ "$failed" = 0 ]
