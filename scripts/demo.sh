#!/usr/bin/env bash
# The first command to try: builds Spool, starts a private PostgreSQL in .spool-demo/ and
# makes jobs flow for a while, then tells you where to look.
#
#   scripts/demo.sh          install what is missing, build, start (or reuse) the demo
#                            cluster, migrate, start spoold, submit sample jobs (SQL, CLI,
#                            HTTP), run two spool-worker processes ~20 s
#   scripts/demo.sh stop     stop spoold and the demo cluster (data stays in .spool-demo/)
#
# SPOOL_DEMO_SECONDS sets how long the workers run (default 20). The workers are real
# spool-worker processes with the simulation connector: each job "runs" for about half a
# second with progress steps, one in ten fails once (retried with backoff), and emails to
# bounce@ fail permanently.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SPOOL_ROOT"

DEMO=$SPOOL_ROOT/.spool-demo
SPOOL=$SPOOL_ROOT/build/spool
SECONDS_TO_RUN=${SPOOL_DEMO_SECONDS:-20}

# The cluster lives in .spool-demo/pg, or, when we are root and the postgres user cannot
# reach the repository (e.g. under /root), in a directory under /tmp named in
# .spool-demo/pgdir.
demo_pgdir() {
    if [ -f "$DEMO/pgdir" ]; then
        cat "$DEMO/pgdir"
    elif [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$SPOOL_ROOT" 2>/dev/null; then
        local d
        d=$(mktemp -d "${TMPDIR:-/tmp}/spool-demo-pg.XXXXXX")
        chmod 755 "$d"
        echo "$d" >"$DEMO/pgdir"
        echo "$d"
    else
        echo "$DEMO/pg"
    fi
}

demo_running_port() {
    local pgdir=$1 port
    [ -f "$pgdir/port" ] && [ -f "$pgdir/data/postmaster.pid" ] || return 1
    port=$(cat "$pgdir/port")
    "$SPOOL_PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" || return 1
    echo "$port"
}

if [ "${1:-}" = stop ]; then
    if [ ! -d "$DEMO" ]; then echo "no demo here (.spool-demo/ does not exist)"; exit 0; fi
    if [ -f "$DEMO/spoold.pid" ]; then
        kill -TERM "$(cat "$DEMO/spoold.pid")" 2>/dev/null && echo "spoold stopped" || true
        rm -f "$DEMO/spoold.pid"
    fi
    pgdir=$(demo_pgdir)
    spool_pg_stop "$pgdir"
    echo "demo PostgreSQL stopped (data kept in $pgdir; rm -rf .spool-demo to forget it)"
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: scripts/demo.sh [stop]" >&2
    exit 2
fi

# ---- build and start ---------------------------------------------------------------------------
spool_install_packages
spool_log "building build/ (RelWithDebInfo)"
spool_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

mkdir -p "$DEMO"
pgdir=$(demo_pgdir)
if PORT=$(demo_running_port "$pgdir"); then
    spool_log "reusing the demo PostgreSQL on port $PORT"
else
    spool_log "starting a private PostgreSQL in $pgdir"
    PORT=$(spool_pg_start "$pgdir")
fi
ADMIN_URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
URL="postgresql://postgres@127.0.0.1:$PORT/spool"
if [ -z "$(spool_psql "$ADMIN_URL" -qAt -c "select 1 from pg_database where datname = 'spool'")" ]; then
    spool_psql "$ADMIN_URL" -qAt -c "create database spool"
fi
export SPOOL_DATABASE_URL=$URL
unset SPOOL_CONFIG SPOOL_LOG_LEVEL SPOOL_CONNECT_TIMEOUT
spool_log "spool migrate"
"$SPOOL" migrate | tail -n 1

# ---- types and jobs ----------------------------------------------------------------------------
spool_log "registering job types"
"$SPOOL" types set resize --description "resize an image" --max-attempts 4 --backoff-base 1 \
    --payload-schema '{"required":["url","width"],"properties":{"url":{"type":"string"},"width":{"type":"integer"},"height":{"type":"integer"}}}' >/dev/null
"$SPOOL" types set email --description "send an email" --max-attempts 3 --backoff-base 1 \
    --backoff-max 4 >/dev/null
"$SPOOL" types set report --description "build a report" --priority 40 --timeout 600 >/dev/null
"$SPOOL" types

spool_log "submitting sample jobs with the CLI"
submit_id() { "$SPOOL" --json submit "$@" | jq -r .id; }
parent=$(submit_id resize --payload '{"url":"https://example.com/cat.png","width":640}' --tag demo)
echo "resize job $parent"
"$SPOOL" submit report --payload '{"name":"thumbnails"}' --depends-on "$parent"
"$SPOOL" submit report --payload '{"name":"nightly"}' --delay 10
"$SPOOL" submit email --payload '{"to":"ceo@example.com","subject":"urgent"}' --priority 95
"$SPOOL" submit email --payload '{"to":"bounce@example.com","subject":"will fail","fail":"permanent"}'
"$SPOOL" submit email --payload '{"to":"ops@example.com"}' --idempotency-key welcome-ops
"$SPOOL" submit email --payload '{"to":"ops@example.com"}' --idempotency-key welcome-ops
echo "(the same idempotency key returned the same job)"
echo "a payload that breaks the type's schema is refused:"
"$SPOOL" submit resize --payload '{"url":"https://example.com/x.png"}' || true
for i in $(seq 1 10); do
    "$SPOOL" submit resize --payload "{\"url\":\"https://example.com/$i.png\",\"width\":$((i * 100))}" >/dev/null
done
spool_log "submitting 300 more in one call to spool.submit_many"
spool_psql "$URL" -qAt -c "select count(*) || ' jobs submitted' from spool.submit_many(jobs => (
    select jsonb_agg(jsonb_build_object(
             'type', (array['resize','email','report'])[1 + g % 3],
             'payload', case g % 3
                 when 0 then jsonb_build_object('url', 'https://example.com/b' || g || '.png', 'width', 200,
                                                'output', g % 30 = 0)
                 when 1 then jsonb_build_object('to', 'user' || g || '@example.com')
                 else jsonb_build_object('name', 'batch ' || g) end,
             'priority', 10 + g % 80))
      from generate_series(1, 300) g))"

# ---- workers -----------------------------------------------------------------------------------
# Two spool-worker processes, simulation connector: settings through SPOOL_WORKER_* (the
# database URL too, so it is not on a command line). SIGTERM drains them: running jobs
# finish within shutdown_grace, the rest go back to pending.
pids=()
stop_workers() {
    local p
    [ ${#pids[@]} -gt 0 ] || return 0
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap stop_workers EXIT
start_worker() {
    SPOOL_WORKER_DATABASE_URL=$URL SPOOL_WORKER_ID=$1 SPOOL_WORKER_CONNECTORS=simulation \
        SPOOL_WORKER_CONCURRENCY=8 SPOOL_WORKER_SIMULATION_DURATION_MS=500 \
        SPOOL_WORKER_SIMULATION_STEPS=4 SPOOL_WORKER_SIMULATION_FAIL_RATE=0.1 \
        SPOOL_WORKER_SHUTDOWN_GRACE=5s SPOOL_WORKER_OUTPUT_DIR="$DEMO/outputs" \
        build/spool-worker >"$DEMO/$1.log" 2>&1 &
    pids+=($!)
}

# ---- spoold: REST + live events ------------------------------------------------------------------
if [ -f "$DEMO/spoold.pid" ] && kill -0 "$(cat "$DEMO/spoold.pid")" 2>/dev/null; then
    kill -TERM "$(cat "$DEMO/spoold.pid")" 2>/dev/null || true
    sleep 0.5
fi
HTTP_PORT=${SPOOL_DEMO_HTTP_PORT:-8080}
if ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $HTTP_PORT))" 2>/dev/null; then
    HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
BASE="http://127.0.0.1:$HTTP_PORT"
nohup build/spoold --database-url "$URL" --listen "127.0.0.1:$HTTP_PORT" >"$DEMO/spoold.log" 2>&1 &
echo $! >"$DEMO/spoold.pid"
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.05; done
TOKEN=$("$SPOOL" tokens create --role admin --name "demo-$(date +%s)" 2>/dev/null)
echo "$TOKEN" >"$DEMO/token"
chmod 600 "$DEMO/token"
spool_log "spoold listening on $BASE (log: .spool-demo/spoold.log, admin token in .spool-demo/token)"
echo "submitting a job over HTTP:"
echo "  curl -X POST $BASE/v1/jobs -H 'Authorization: Bearer <token>' -d '{\"type\":\"email\",...}'"
http_job=$(curl -s -X POST "$BASE/v1/jobs" -H "Authorization: Bearer $TOKEN" \
    -d '{"type":"email","payload":{"to":"http@example.com","subject":"over HTTP"},"priority":80}')
HTTP_JOB=$(jq -r .id <<<"$http_job")
jq -c '{id, type, status, priority}' <<<"$http_job"
echo "its events, streamed live (SSE) while the workers run: .spool-demo/job-events.txt"
curl -sN --max-time $((SECONDS_TO_RUN + 5)) -H "Authorization: Bearer $TOKEN" \
    "$BASE/v1/jobs/$HTTP_JOB/events" >"$DEMO/job-events.txt" 2>/dev/null &
SSE_PID=$!

spool_log "running 2 spool-worker processes for ${SECONDS_TO_RUN}s (logs in .spool-demo/demo-worker-*.log)"
for n in 1 2; do start_worker "demo-worker-$n"; done
end=$((SECONDS + SECONDS_TO_RUN))
while [ "$SECONDS" -lt "$end" ]; do
    echo
    echo "---- $(date +%T)  spool stats ----"
    "$SPOOL" stats
    echo "---- spool jobs --limit 10 ----"
    "$SPOOL" jobs --limit 10
    sleep 5
done
stop_workers
kill "$SSE_PID" 2>/dev/null || true
echo
echo "---- spool workers ----"
"$SPOOL" workers
echo "(their logs: .spool-demo/demo-worker-*.log; files the jobs stored: .spool-demo/outputs/)"
echo
echo "---- events of the HTTP job $HTTP_JOB, as its SSE stream delivered them ----"
grep -E '^(id|event):' "$DEMO/job-events.txt" | paste - - | head -10

cat <<MSG

The demo PostgreSQL keeps running, so you can look around:

  psql $URL

  select * from spool.queue_depth;
  select * from spool.throughput;
  select * from spool.latency;
  select * from spool.recent_failures limit 10;
  select * from spool.worker_health;
  select id, type, status, attempts, error from spool.jobs order by created_at desc limit 10;
  select * from spool.submit(type => 'email', payload => '{"to":"you@example.com"}');
  select * from spool.claim(worker_id => 'me', capabilities => '{}', max_jobs => 1);

CLI (same database):

  export SPOOL_DATABASE_URL=$URL
  build/spool stats
  build/spool jobs --status dead
  build/spool job $parent
  build/spool submit email --payload '{"to":"you@example.com"}' --priority 90
  build/spool retry <id of a dead job>

spoold (REST API and live events), token in .spool-demo/token:

  TOKEN=\$(cat .spool-demo/token)
  curl -H "Authorization: Bearer \$TOKEN" $BASE/v1/jobs?limit=5
  curl -X POST -H "Authorization: Bearer \$TOKEN" $BASE/v1/jobs -d '{"type":"email","payload":{"to":"x@example.com"}}'
  curl -N -H "Authorization: Bearer \$TOKEN" $BASE/v1/events          # live, all jobs
  curl $BASE/metrics
  API: docs/openapi.yaml

Run the demo again to add more jobs; stop everything with: scripts/demo.sh stop
MSG
