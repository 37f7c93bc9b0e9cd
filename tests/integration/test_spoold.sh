#!/usr/bin/env bash
# Integration test of spoold over real HTTP against a real PostgreSQL cluster of its own
# (so that it can restart the database on purpose).
#   SPOOL_TEST_DATABASE_URL=... tests/integration/test_spoold.sh build/spoold build/spool
# Skips (exit 77) when SPOOL_TEST_DATABASE_URL is unset, like the other integration tests;
# the URL itself is not used: this test needs a cluster it may stop and start.
set -uo pipefail

SPOOLD=${1:?usage: test_spoold.sh path/to/spoold path/to/spool}
SPOOL=${2:?usage: test_spoold.sh path/to/spoold path/to/spool}
if [ -z "${SPOOL_TEST_DATABASE_URL:-}" ]; then
    echo "SPOOL_TEST_DATABASE_URL is not set: skipping"
    exit 77
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
unset SPOOL_CONFIG SPOOL_LOG_LEVEL SPOOL_AUTH SPOOL_LISTEN SPOOL_DATABASE_URL
TMP=$(mktemp -d /tmp/spoold-test.XXXXXX)
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
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && echo "    ${2:0:800}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "status=$ST body=$BODY"; fi; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

URL=$("$ROOT/scripts/pg.sh" start "$TMP/pg") || { echo "could not start PostgreSQL"; exit 1; }
PGPORT_=$(cat "$TMP/pg/port")
"$SPOOL" --database-url "$URL" migrate >/dev/null || { echo "migrate failed"; exit 1; }
psql() { command psql "$URL" -qAtX -v ON_ERROR_STOP=1 "$@"; }
psql -c "SELECT spool.register_type('itest', max_attempts => 3)" >/dev/null

# start_spoold PORTVAR [flags...]: starts spoold, waits for /healthz, leaves its pid in SPID.
start_spoold() {
    local port=$1
    shift
    "$SPOOLD" --database-url "$URL" --listen "127.0.0.1:$port" --auth-cache 1s "$@" \
        >>"$TMP/spoold-$port.log" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "spoold did not start:"; tail -5 "$TMP/spoold-$port.log"
    return 1
}

PORT=$(free_port)
start_spoold "$PORT" --max-body-bytes 65536 --max-batch-jobs 30 --sse-heartbeat 1s || exit 1
MAIN_PID=$SPID
BASE="http://127.0.0.1:$PORT"

ADMIN=$("$SPOOL" --database-url "$URL" tokens create --role admin --name admin 2>/dev/null)
CLIENT_A=$("$SPOOL" --database-url "$URL" tokens create --role client --tenant acme --name client-a 2>/dev/null)
CLIENT_B=$("$SPOOL" --database-url "$URL" tokens create --role client --tenant globex --name client-b 2>/dev/null)
WORKER=$("$SPOOL" --database-url "$URL" tokens create --role worker --name worker 2>/dev/null)
check "tokens create prints only the token on stdout" \
    bash -c "[[ '$ADMIN' =~ ^spool_[A-Za-z0-9_-]{43}$ ]]"

ST= BODY= HDRS=
# req METHOD PATH TOKEN [BODY] [extra curl args...]: sets ST, BODY, HDRS.
req() {
    local m=$1 p=$2 tok=$3 data=${4:-}
    shift 4 2>/dev/null || shift $#
    local args=(-s -X "$m" -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}')
    [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
    ST=$(curl "${args[@]}" "$@" "$BASE$p")
    BODY=$(cat "$TMP/body")
    HDRS=$(cat "$TMP/hdrs")
}
is() { [ "$ST" = "$1" ]; }
code_is() { [ "$ST" = "$1" ] && [ "$(jq -r .error.code <<<"$BODY")" = "$2" ]; }
jqt() { jq -e "$1" <<<"$BODY" >/dev/null 2>&1; }

# ---- configuration ---------------------------------------------------------------------
missing=""
for k in $("$SPOOLD" --help | awk '/^  --/ {print $1}' | sed 's/^--//; s/-/_/g'); do
    case $k in config | help) continue ;; esac
    grep -Eq "^#? *$k = " "$ROOT/config/spoold.conf" || missing="$missing $k"
done
check "config/spoold.conf documents every setting of spoold --help" eval '[ -z "$missing" ]'
out=$("$SPOOLD" --database-url "$URL" --max-batch-jobs 0 2>&1)
rc=$?
check "an invalid setting stops start-up with a precise message" \
    eval '[ $rc != 0 ] && grep -q "max_batch_jobs.*out of range" <<<"$out"'

# ---- public routes --------------------------------------------------------------------
req GET /healthz ""
check "GET /healthz is 200" is 200
req GET /readyz ""
check "GET /readyz is 200 when migrated" eval 'is 200 && jqt ".status == \"ready\""'
req GET /metrics ""
check "GET /metrics is Prometheus text" eval 'is 200 && grep -q "^spool_db_pool_size" <<<"$BODY" && grep -q "# TYPE spool_http_requests_total counter" <<<"$BODY"'

# ---- auth ------------------------------------------------------------------------------
req GET /v1/jobs ""
check "no token: 401 unauthorized" code_is 401 unauthorized
check "401 carries WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' <<<"$HDRS"
req GET /v1/jobs "" '' -H 'Authorization: Basic dXNlcjpwYXNz'
check "a non-bearer Authorization: 401" code_is 401 unauthorized
req GET /v1/jobs "spool_not-a-real-token"
check "unknown token: 401" code_is 401 unauthorized
req POST /v1/jobs "$WORKER" '{"type":"itest"}'
check "worker token cannot submit: 403" code_is 403 forbidden
req PUT /v1/types/other "$CLIENT_A" '{}'
check "client token cannot change types: 403" code_is 403 forbidden

# ---- submit, get, list -----------------------------------------------------------------
req POST /v1/jobs "$ADMIN" '{"type":"itest","payload":{"n":1},"priority":70,"tags":["x"]}'
check "POST /v1/jobs: 201 with the job" eval 'is 201 && jqt ".status == \"pending\" and .priority == 70 and (has(\"lease_token\") | not)"'
JOB1=$(jq -r .id <<<"$BODY")
req GET "/v1/jobs/$JOB1" "$ADMIN"
check "GET /v1/jobs/{id}: 200" eval "is 200 && jqt '.id == \"$JOB1\"'"
req GET /v1/jobs/00000000-0000-0000-0000-000000000000 "$ADMIN"
check "unknown job: 404" code_is 404 not_found
req GET /v1/jobs/not-a-uuid "$ADMIN"
check "malformed job id: 404" code_is 404 not_found
req POST /v1/jobs "$ADMIN" '{"type":"itest",'
check "malformed JSON: 400" code_is 400 malformed
req POST /v1/jobs "$ADMIN" '[1,2]'
check "array to POST /v1/jobs: 400" code_is 400 malformed
req POST /v1/jobs "$ADMIN" '{"type":"no_such_type"}'
check "unknown type: 422" code_is 422 invalid
req POST /v1/jobs "$ADMIN" '{"type":"itest","priority":1000}'
check "priority out of range: 422" code_is 422 invalid
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
req POST /v1/jobs "$ADMIN" "{\"type\":\"itest\",\"payload\":{\"s\":\"$big\"}}"
check "body over max_body_bytes: 413" code_is 413 body_too_large
req DELETE /v1/jobs "$ADMIN"
check "wrong method: 405 with Allow" eval 'code_is 405 method_not_allowed && grep -qi "^Allow: .*POST" <<<"$HDRS"'
req GET /v1/nope "$ADMIN"
check "unknown route: 404" code_is 404 not_found
check "responses carry X-Request-Id" grep -qi "^X-Request-Id: " <<<"$HDRS"
req GET /v1/types "$ADMIN" '' -H 'X-Request-Id: trace-abc_123'
check "a client's X-Request-Id is kept" grep -qi "^X-Request-Id: trace-abc_123" <<<"$HDRS"
head -c 70000 /dev/zero | tr '\0' 'a' | sed 's/^/{"type":"itest","payload":{"s":"/; s/$/"}}/' >"$TMP/big.json"
ST=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" \
    -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big.json" "$BASE/v1/jobs")
BODY=$(cat "$TMP/body")
check "chunked body (no Content-Length) over max_body_bytes: 413" code_is 413 body_too_large

# Values PostgreSQL refuses are bad input: 400/422 with a generic message, never a 500 and
# never the database's own text.
req PUT /v1/types/badvals "$ADMIN" '{"retention":"banana"}'
check "PUT /v1/types with a malformed interval: 422" \
    eval 'code_is 422 invalid && ! grep -qi "syntax\|interval" <<<"$(jq -r .error.message <<<"$BODY")"'
req PUT /v1/types/badvals "$ADMIN" '{"max_attempts":99999999999}'
check "PUT /v1/types with an out-of-range integer: 422" code_is 422 invalid
printf '{"type":"itest","payload":{"s":"\xff\xfe"}}' >"$TMP/badutf8.json"
req POST /v1/jobs "$ADMIN" "$(cat "$TMP/badutf8.json")"
check "body with invalid UTF-8: 400" code_is 400 malformed
req POST /v1/jobs "$ADMIN" '{"type":"itest","payload":{"s":"\u0000"}}'
check "body with \\u0000: 400" code_is 400 malformed
req GET "/v1/jobs?type=%ff" "$ADMIN"
check "query value with invalid UTF-8: 400" code_is 400 malformed
req GET "/v1/jobs?limit=+5" "$ADMIN"
check "limit with a sign: 422" code_is 422 invalid
req GET "/v1/jobs?status=bogus" "$ADMIN"
check "unknown status filter: 422" code_is 422 invalid
req GET "/v1/events?last_event_id=abc" "$ADMIN" '' --max-time 2
check "malformed Last-Event-ID: 400" code_is 400 malformed

req POST /v1/jobs/batch "$ADMIN" '[{"type":"itest"},{"type":"itest","queue":"q2"},{"type":"itest"}]'
check "POST /v1/jobs/batch: 201 with 3 jobs" eval 'is 201 && jqt "length == 3"'
before=$(psql -c "SELECT count(*) FROM spool.jobs")
req POST /v1/jobs/batch "$ADMIN" '[{"type":"itest"},{"type":"no_such_type"}]'
after=$(psql -c "SELECT count(*) FROM spool.jobs")
check "batch is all or nothing: 422 and no job added" eval 'code_is 422 invalid && [ "$before" = "$after" ]'
for i in $(seq 31); do echo '{"type":"itest"}'; done | jq -s -c . >"$TMP/b31.json"
req POST /v1/jobs/batch "$ADMIN" "$(cat "$TMP/b31.json")"
check "batch over max_batch_jobs: 422 with the limit in details" \
    eval 'code_is 422 invalid && jqt ".error.details.max_batch_jobs == 30 and .error.details.jobs == 31"'
req POST /v1/jobs/batch "$ADMIN" '[]'
check "empty batch: 422" code_is 422 invalid
req POST /v1/jobs/batch "$ADMIN" '{"type":"itest"}'
check "object to POST /v1/jobs/batch: 400" code_is 400 malformed

# pagination: 25 jobs in queue pg; pages of 10 with inserts in between stay stable
for i in $(seq 25); do echo "{\"type\":\"itest\",\"queue\":\"pg\",\"payload\":{\"i\":$i}}"; done | jq -s -c . >"$TMP/pg.json"
req POST /v1/jobs/batch "$ADMIN" "$(cat "$TMP/pg.json")"
seen=()
cursor=""
pages=0
while :; do
    req GET "/v1/jobs?queue=pg&limit=10${cursor:+&cursor=$cursor}" "$ADMIN"
    [ "$ST" = 200 ] || break
    mapfile -t ids < <(jq -r '.jobs[].id' <<<"$BODY")
    seen+=("${ids[@]}")
    pages=$((pages + 1))
    cursor=$(jq -r '.next_cursor // empty' <<<"$BODY")
    # a job submitted mid-listing must not shift the pages that follow
    curl -s -o /dev/null -X POST -H "Authorization: Bearer $ADMIN" \
        --data-binary '{"type":"itest","queue":"pg"}' "$BASE/v1/jobs"
    [ -n "$cursor" ] && [ $pages -lt 10 ] || break
done
uniq_count=$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)
check "keyset pagination: 25 jobs in 3 pages, none twice, stable under inserts" \
    eval '[ "${#seen[@]}" = 25 ] && [ "$uniq_count" = 25 ] && [ $pages = 3 ]'
req GET "/v1/jobs?limit=0" "$ADMIN"
check "limit out of range: 422" code_is 422 invalid
req GET "/v1/jobs?cursor=garbage" "$ADMIN"
check "bad cursor: 400" code_is 400 malformed
req GET "/v1/jobs?queue=pg&limit=2" "$ADMIN"
c1=$(jq -r .next_cursor <<<"$BODY")
last1=$(jq -r '.jobs[-1].id' <<<"$BODY")
check "the cursor is opaque (not a job id)" eval '[ -n "$c1" ] && [ "$c1" != null ] && [ "$c1" != "$last1" ] && ! [[ "$c1" =~ ^[0-9a-f-]{36}$ ]]'
req GET "/v1/jobs?queue=pg&limit=2&cursor=$last1" "$ADMIN"
check "a job id is not a cursor: 400" code_is 400 malformed
req GET "/v1/jobs?queue=pg&limit=1000" "$ADMIN"
check "the last page has next_cursor null" jqt '.next_cursor == null'
req GET "/v1/jobs?status=pending&type=itest&tag=x&limit=5" "$ADMIN"
check "filters by status, type, tag" eval "is 200 && jqt '(.jobs | length) == 1 and .jobs[0].id == \"$JOB1\"'"

# ---- cancel, retry, conflict --------------------------------------------------------------
req POST "/v1/jobs/$JOB1/cancel" "$ADMIN" '{"reason":"not needed"}'
check "cancel a pending job: 200, cancelled" eval 'is 200 && jqt ".status == \"cancelled\" and .cancel_reason == \"not needed\""'
req POST "/v1/jobs/$JOB1/cancel" "$ADMIN" ''
check "cancel a cancelled job: 409" code_is 409 conflict
req POST "/v1/jobs/$JOB1/retry" "$ADMIN" ''
check "retry a cancelled job: 201 with lineage" eval "is 201 && jqt '.original_job_id == \"$JOB1\" and .status == \"pending\"'"
req POST "/v1/jobs/00000000-0000-0000-0000-000000000000/cancel" "$ADMIN" ''
check "cancel an unknown job: 404" code_is 404 not_found

# ---- types, workers, stats -----------------------------------------------------------------
req PUT /v1/types/resize "$ADMIN" '{"max_attempts":7,"payload_schema":{"required":["w"],"properties":{"w":{"type":"number"}}}}'
check "PUT /v1/types/{name}: 200" eval 'is 200 && jqt ".name == \"resize\" and .max_attempts == 7"'
req PUT /v1/types/resize "$ADMIN" '{"max_attemps":7}'
check "unknown type setting: 422" code_is 422 invalid
req POST /v1/jobs "$ADMIN" '{"type":"resize","payload":{"w":"wide"}}'
check "payload schema enforced: 422" code_is 422 invalid
req GET /v1/types "$CLIENT_A"
check "GET /v1/types" eval 'is 200 && jqt "map(.name) | index(\"resize\") != null"'
psql -c "SELECT spool.register_worker('w-itest', '{\"services\":[\"sim\"]}')" >/dev/null 2>&1 || true
req GET /v1/workers "$WORKER"
check "GET /v1/workers" eval 'is 200 && jqt "type == \"array\""'
req GET /v1/stats "$CLIENT_A"
check "GET /v1/stats: queue depth and throughput" eval 'is 200 && jqt "(.queue_depth | length) > 0 and has(\"throughput\")"'

# ---- idempotency ---------------------------------------------------------------------------------
KEYBODY='{"type":"itest","payload":{"order":42}}'
seq 100 | xargs -P 100 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
    -H "Authorization: Bearer $ADMIN" -H 'Idempotency-Key: order-42' --data-binary "$KEYBODY" \
    "$BASE/v1/jobs" >"$TMP/idem.codes"
n_jobs=$(psql -c "SELECT count(*) FROM spool.jobs WHERE idempotency_key = 'order-42'")
n_created=$(grep -c '^201$' "$TMP/idem.codes")
n_ok=$(grep -c '^200$' "$TMP/idem.codes")
check "100 concurrent identical submits: one job, one 201, 99 200s" \
    eval '[ "$n_jobs" = 1 ] && [ "$n_created" = 1 ] && [ "$n_ok" = 99 ]'
req POST /v1/jobs "$ADMIN" '{"type":"itest","payload":{"order":43}}' -H 'Idempotency-Key: order-42'
check "same key, different body: 422" code_is 422 invalid
req POST /v1/jobs "$CLIENT_A" "$KEYBODY" -H 'Idempotency-Key: order-42'
check "same key from another tenant: 422, never the other's job" \
    eval 'code_is 422 invalid && ! grep -q "\"id\"" <<<"$BODY" && ! jqt ".error.details.detail"'
req POST /v1/jobs "$ADMIN" '{"type":"itest","payload":{"order":44}}' -H 'Idempotency-Key: order-42'
check "same key, different body, same caller: the details name the original job" \
    eval 'code_is 422 invalid && jqt ".error.details.detail | startswith(\"job \")"'

# ---- tenants -------------------------------------------------------------------------------------
req POST /v1/jobs "$CLIENT_A" '{"type":"itest","payload":{"t":"a"}}'
JOB_A=$(jq -r .id <<<"$BODY")
check "tenant client submit gets customer_id = tenant" jqt '.customer_id == "acme"'
req POST /v1/jobs "$CLIENT_A" '{"type":"itest","customer_id":"globex"}'
check "tenant client cannot submit for another tenant: 422" code_is 422 invalid
req POST /v1/jobs "$CLIENT_B" '{"type":"itest","payload":{"t":"b"}}'
JOB_B=$(jq -r .id <<<"$BODY")
req GET "/v1/jobs/$JOB_B" "$CLIENT_A"
check "tenant A cannot read tenant B's job: 404" code_is 404 not_found
req POST "/v1/jobs/$JOB_B/cancel" "$CLIENT_A" ''
check "tenant A cannot cancel tenant B's job: 404" code_is 404 not_found
req POST "/v1/jobs/$JOB_B/retry" "$CLIENT_A" ''
check "tenant A cannot retry tenant B's job: 404" code_is 404 not_found
req GET "/v1/jobs/$JOB_B/events" "$CLIENT_A" '' --max-time 2
check "tenant A cannot stream tenant B's job: 404" code_is 404 not_found
req GET "/v1/jobs?limit=1000" "$CLIENT_A"
check "tenant A lists only its own jobs" eval "is 200 && jqt '(.jobs | length) >= 1 and all(.jobs[]; .customer_id == \"acme\")'"
req GET "/v1/jobs?customer_id=globex" "$CLIENT_A"
check "tenant A asking for tenant B's list gets nothing" eval 'is 200 && jqt "(.jobs | length) == 0"'
curl -sN --max-time 3 -H "Authorization: Bearer $CLIENT_A" "$BASE/v1/events" >"$TMP/sse_a.txt" &
SSE_A=$!
sleep 0.5
req POST /v1/jobs "$CLIENT_B" '{"type":"itest","payload":{"t":"b2"}}'
req POST /v1/jobs "$CLIENT_A" '{"type":"itest","payload":{"t":"a2"}}'
JOB_A2=$(jq -r .id <<<"$BODY")
wait $SSE_A
check "tenant A's global stream carries its events and none of B's" \
    eval "grep -q '$JOB_A2' '$TMP/sse_a.txt' && ! grep -q 'globex' '$TMP/sse_a.txt'"

# ---- revocation ----------------------------------------------------------------------------------
TMPTOK=$("$SPOOL" --database-url "$URL" tokens create --role client --name short-lived 2>/dev/null)
req GET /v1/types "$TMPTOK"
first=$ST
"$SPOOL" --database-url "$URL" tokens revoke short-lived >/dev/null
sleep 1.3
req GET /v1/types "$TMPTOK"
check "a revoked token stops working within auth_cache (1s)" eval '[ "$first" = 200 ] && code_is 401 unauthorized'

# ---- rate limiting (a second spoold with a small bucket) --------------------------------------------
RPORT=$(free_port)
start_spoold "$RPORT" --rate-limit 1 --rate-burst 5 --statement-timeout 500ms || exit 1
RL_PID=$SPID
codes=$(seq 20 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$RPORT/v1/types")
ra=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$RPORT/v1/types" | grep -i '^Retry-After:' | tr -d '\r')
if [ "$(grep -c "^200$" <<<"$codes")" -ge 5 ] && grep -q "^429$" <<<"$codes" && [ -n "$ra" ]; then
    ok "rate limit: 429 with Retry-After past the burst"
else
    not_ok "rate limit: 429 with Retry-After past the burst" "codes=$(echo $codes) retry-after=$ra"
fi
# A call held up by a lock past statement_timeout is cancelled: 503 + Retry-After, and the
# job is left as it was.
psql -c "BEGIN; SELECT 1 FROM spool.job_live WHERE id = '$JOB_A' FOR UPDATE; SELECT pg_sleep(3); COMMIT" >/dev/null &
LOCKER=$!
sleep 0.5
ST=$(curl -s -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' --max-time 10 -X POST \
    -H "Authorization: Bearer $CLIENT_A" "http://127.0.0.1:$RPORT/v1/jobs/$JOB_A/cancel")
BODY=$(cat "$TMP/body")
HDRS=$(cat "$TMP/hdrs")
check "a call blocked past statement_timeout: 503 with Retry-After" \
    eval 'code_is 503 retry && grep -qi "^Retry-After: " <<<"$HDRS"'
wait $LOCKER
check "the timed-out cancel changed nothing" \
    eval '[ "$(psql -c "SELECT status FROM spool.jobs WHERE id = '"'$JOB_A'"'")" = pending ]'
kill -TERM "$RL_PID"; wait "$RL_PID" 2>/dev/null

# ---- SSE: per-job stream, replay after a restart with no gap ----------------------------------------
req POST /v1/jobs "$ADMIN" '{"type":"itest","queue":"sse"}'
JS=$(jq -r .id <<<"$BODY")
curl -sN --max-time 5 -H "Authorization: Bearer $ADMIN" "$BASE/v1/jobs/$JS/events" >"$TMP/job.txt" &
JP=$!
sleep 0.5
psql -c "SELECT count(*) FROM spool.claim('w-itest', '{}', 100, 60)" >/dev/null
tok=$(psql -c "SELECT lease_token FROM spool.job_live WHERE id = '$JS'")
psql -c "SELECT count(*) FROM spool.complete('$JS', '$tok', '{\"ok\":true}')" >/dev/null
wait $JP
jp_rc=$?
check "per-job stream: history, then live claimed/completed, then it ends" \
    eval "[ $jp_rc = 0 ] && grep -q '^event: submitted' '$TMP/job.txt' && grep -q '^event: completed' '$TMP/job.txt'"

curl -sN --max-time 4 -H "Authorization: Bearer $ADMIN" "$BASE/v1/events?queue=sse2" >"$TMP/s1.txt" &
S1=$!
sleep 0.5
for i in $(seq 5); do psql -c "SELECT count(*) FROM spool.submit('itest', queue => 'sse2')" >/dev/null; done
wait $S1
last=$(grep '^id: ' "$TMP/s1.txt" | tail -1 | cut -d' ' -f2)
kill -TERM "$MAIN_PID"; wait "$MAIN_PID" 2>/dev/null
term_rc=$?
check "SIGTERM: spoold exits 0" eval '[ "$term_rc" = 0 ]'
for i in $(seq 7); do psql -c "SELECT count(*) FROM spool.submit('itest', queue => 'sse2')" >/dev/null; done
start_spoold "$PORT" --max-body-bytes 65536 --sse-heartbeat 1s || exit 1
MAIN_PID=$SPID
sleep 0.3
curl -sN --max-time 3 -H "Authorization: Bearer $ADMIN" -H "Last-Event-ID: $last" "$BASE/v1/events?queue=sse2" >"$TMP/s2.txt" &
S2=$!
sleep 0.8
for i in $(seq 3); do psql -c "SELECT count(*) FROM spool.submit('itest', queue => 'sse2')" >/dev/null; done
wait $S2
want=$(psql -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM spool.event_log WHERE queue = 'sse2'")
got=$(cat "$TMP/s1.txt" "$TMP/s2.txt" | grep '^id: ' | cut -d' ' -f2 | paste -sd,)
check "SSE: Last-Event-ID after a spoold restart replays the gap, then live, no gap, no duplicate" \
    eval '[ -n "$want" ] && [ "$want" = "$got" ]'
grep -q '^: ping' "$TMP/s2.txt"
check "idle streams get heartbeat comments" eval '[ $? = 0 ] || grep -q "^: ping" "$TMP/s1.txt"'

# ---- slow subscriber: disconnected, memory bounded ----------------------------------------------------
SPORT=$(free_port)
start_spoold "$SPORT" --sse-queue-events 16 || exit 1
SLOW_PID=$SPID
python3 - "$SPORT" "$ADMIN" >"$TMP/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
time.sleep(12)   # never read
PY
SLOWC=$!
sleep 0.5
rss0=$(awk '/VmRSS/ {print $2}' /proc/$SLOW_PID/status)
psql -c "DO \$\$ BEGIN FOR i IN 1..3000 LOOP PERFORM spool.submit('itest', queue => 'flood', payload => jsonb_build_object('pad', repeat('x', 400))); END LOOP; END \$\$" >/dev/null
# one transaction: one notification; give the hub a moment to fan out
for _ in $(seq 50); do
    dropped=$(curl -s "http://127.0.0.1:$SPORT/metrics" | awk '/^spool_sse_dropped_total/ {print $2}')
    [ "${dropped:-0}" -ge 1 ] && break
    sleep 0.1
done
rss1=$(awk '/VmRSS/ {print $2}' /proc/$SLOW_PID/status)
check "slow subscriber is disconnected (spool_sse_dropped_total >= 1)" eval '[ "${dropped:-0}" -ge 1 ]'
check "spoold memory stays bounded while a subscriber stalls (<20 MB growth)" eval '[ $((rss1 - rss0)) -lt 20480 ]'
kill "$SLOWC" 2>/dev/null
kill -TERM "$SLOW_PID"; wait "$SLOW_PID" 2>/dev/null

# ---- database restart mid-load: 503s, then recovery, nothing acknowledged lost -------------------------
: >"$TMP/load.txt"
(
    for i in $(seq 400); do
        r=$(curl -s -o "$TMP/l.body" -w '%{http_code}' --max-time 5 -X POST \
            -H "Authorization: Bearer $ADMIN" --data-binary '{"type":"itest","queue":"load"}' "$BASE/v1/jobs")
        if [ "$r" = 201 ]; then echo "201 $(jq -r .id "$TMP/l.body")"; else echo "$r"; fi
        sleep 0.01
    done >"$TMP/load.txt"
) &
LOADER=$!
sleep 1
"$ROOT/scripts/pg.sh" stop "$TMP/pg" >/dev/null
sleep 1.5
req POST /v1/jobs "$ADMIN" '{"type":"itest"}'
down_st=$ST
down_ra=$(grep -i '^Retry-After:' <<<"$HDRS")
req GET /readyz ""
ready_down=$ST
req GET /metrics ""
check "database down: /metrics still answers, with spool_database_up 0 and the 503s counted" \
    eval 'is 200 && grep -q "^spool_database_up 0" <<<"$BODY" && grep -q "route=\"jobs_submit\",status=\"503\"" <<<"$BODY"'
"$ROOT/scripts/pg.sh" start "$TMP/pg" "$PGPORT_" >/dev/null
wait $LOADER
sleep 1.5
req POST /v1/jobs "$ADMIN" '{"type":"itest","queue":"after"}'
after_st=$ST
check "database down: 503 with Retry-After, /readyz 503" \
    eval '[ "$down_st" = 503 ] && [ -n "$down_ra" ] && [ "$ready_down" = 503 ]'
check "database back: spoold recovers by itself" eval '[ "$after_st" = 201 ]'
acked=$(grep -c '^201 ' "$TMP/load.txt")
grep '^201 ' "$TMP/load.txt" | cut -d' ' -f2 | sort >"$TMP/acked.ids"
psql -c "SELECT id FROM spool.jobs WHERE queue = 'load'" | sort >"$TMP/db.ids"
missing=$(comm -23 "$TMP/acked.ids" "$TMP/db.ids" | wc -l)
other=$(grep -cv -e '^201 ' -e '^503$' -e '^000$' "$TMP/load.txt")
check "no acknowledged job lost across the restart ($acked acknowledged)" eval '[ "$acked" -gt 0 ] && [ "$missing" = 0 ]'
check "during the outage requests got 503 (or a closed connection), never another error" eval '[ "$other" = 0 ]'
req GET /metrics ""
check "metrics after load: job gauges, histograms, SSE and pool gauges" \
    eval 'is 200 && grep -q "^spool_database_up 1" <<<"$BODY" && grep -q "^spool_jobs{type=\"itest\"" <<<"$BODY" && grep -q "^spool_job_wait_seconds_count" <<<"$BODY" && grep -q "^spool_sse_subscribers" <<<"$BODY" && grep -q "route=\"jobs_submit\",status=\"201\"" <<<"$BODY"'
grep -q 'spool_' "$TMP"/spoold-*.log && leaked=$(grep -c "$ADMIN" "$TMP"/spoold-*.log | awk -F: '{s+=$2} END {print s}')
check "tokens never reach the log" eval '[ "${leaked:-0}" = 0 ]'
n500=$(cat "$TMP"/spoold-*.log | grep -c 'event=request .* status=500')
check "no request of the whole run got a 500" eval '[ "$n500" = 0 ]'

# ---- maintenance: one leader per database, another takes over when it dies --------------------------
M1PORT=$(free_port)
start_spoold "$M1PORT" --maintenance-interval 200ms || exit 1
M1=$SPID
M2PORT=$(free_port)
start_spoold "$M2PORT" --maintenance-interval 200ms || exit 1
M2=$SPID
leader_pid() {
    psql -c "SELECT a.application_name || ':' || l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND l.classid = 1397772111 AND l.objid = 10 AND l.granted"
}
sleep 1
first=$(leader_pid)
n_leaders=$(psql -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1397772111 AND objid = 10 AND granted")
# The main spoold holds it already (started first); stop it and the two new ones compete.
kill -TERM "$MAIN_PID"; wait "$MAIN_PID" 2>/dev/null
sleep 1.5
second=$(leader_pid)
kill -9 "$M1" "$M2" 2>/dev/null
wait "$M1" "$M2" 2>/dev/null
start_spoold "$PORT" --maintenance-interval 200ms || exit 1
MAIN_PID=$SPID
sleep 1.5
third=$(leader_pid)
check "maintenance: exactly one leader, and another spoold takes over when the leader stops or dies" \
    eval '[ "$n_leaders" = 1 ] && [ -n "$first" ] && [ -n "$second" ] && [ "$first" != "$second" ] && [ -n "$third" ] && [ "$third" != "$second" ]'

kill -TERM "$MAIN_PID"; wait "$MAIN_PID" 2>/dev/null
echo "# spoold: $passed passed, $failed failed"
[ "$failed" = 0 ]
