#!/usr/bin/env bash
# SSE fan-out benchmark: N subscribers (default 10,000) on one spoold, jobs submitted one at
# a time at a steady rate; prints delivery latency p50/p90/p99/max from commit to subscriber,
# events delivered/expected, and spoold's RSS idle and with N subscribers.
#
#   bench/sse.sh [--subscribers N] [--events N] [--interval-ms N] [--sources K]
#
# Own PostgreSQL cluster (synchronous_commit=on) and spoold; the options go to
# build/sse_fanout (see bench/sse_fanout.c). SPOOL_HTTP_THREADS sets spoold's --http-threads
# (default 2); SPOOL_BENCH_BUILD=DIR uses another build tree (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
case "${1:-}" in -h|--help) sed -n '2,10p' "$0"; exit 0 ;; esac
BUILD=${SPOOL_BENCH_BUILD:-build}
if [ ! -x "$BUILD/sse_fanout" ] || [ ! -x "$BUILD/spoold" ] || [ ! -x "$BUILD/spool" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j2 >/dev/null
fi
WORK=$(mktemp -d /tmp/spool-bench-sse.XXXXXX)
chmod 755 "$WORK"
SPID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$SPID" ]; then kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; fi
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Both spoold and the load generator hold one descriptor per stream.
ulimit -n "$(ulimit -Hn)"
export PATH="$SPOOL_PGBIN:$PATH"
export SPOOL_PG_OPTS="-c synchronous_commit=on"
URL=$("$ROOT/scripts/pg.sh" start "$WORK/pg")
"$BUILD/spool" --database-url "$URL" migrate >/dev/null
psql -qXc "SELECT spool.register_type('bench')" "$URL" >/dev/null
TOKEN=$("$BUILD/spool" --database-url "$URL" tokens create --role client --name bench 2>/dev/null)
PORT=$(spool_free_port)
"$BUILD/spoold" --database-url "$URL" --listen "127.0.0.1:$PORT" --log-level warn \
  --max-connections 30000 --sse-max-subscribers 30000 --http-threads "${SPOOL_HTTP_THREADS:-2}" \
  >"$WORK/spoold.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/spoold.log" >&2; exit 1; }
sleep 1 # idle RSS after start-up has settled
echo "PostgreSQL $(psql -XAtc 'show server_version' "$URL"), $(nproc) cores, spoold --http-threads ${SPOOL_HTTP_THREADS:-2}"
rc=0
"$BUILD/sse_fanout" --port "$PORT" --token "$TOKEN" --database-url "$URL" --spoold-pid "$SPID" "$@" || rc=$?
if [ "$rc" != 0 ]; then
  echo "sse_fanout exited with $rc; spoold's last log lines:" >&2
  tail -5 "$WORK/spoold.log" >&2
fi
exit "$rc"
