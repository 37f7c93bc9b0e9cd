#!/usr/bin/env bash
# SSE fan-out benchmark: N subscribers (default 10,000) on one spoold, jobs submitted one at
# a time; prints delivery latency p50/p99/max from commit to subscriber and spoold's RSS
# idle and with N subscribers. Own PostgreSQL cluster and spoold.
#   bench/sse.sh [--subscribers N] [--events N] [--interval-ms N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [ ! -x build/sse_fanout ] || [ ! -x build/spoold ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 >/dev/null
fi
WORK=$(mktemp -d /tmp/spool-bench-sse.XXXXXX)
chmod 755 "$WORK"
SPID=
cleanup() {
  [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
export SPOOL_PG_OPTS="-c synchronous_commit=on"
URL=$("$ROOT/scripts/pg.sh" start "$WORK/pg")
build/spool --database-url "$URL" migrate >/dev/null
psql -qXc "SELECT spool.register_type('bench')" "$URL" >/dev/null
TOKEN=$(build/spool --database-url "$URL" tokens create --role client --name bench 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
build/spoold --database-url "$URL" --listen "127.0.0.1:$PORT" --log-level warn \
  --max-connections 30000 --sse-max-subscribers 30000 --http-threads "${SPOOL_HTTP_THREADS:-2}" >"$WORK/spoold.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
sleep 1
build/sse_fanout --port "$PORT" --token "$TOKEN" --database-url "$URL" --spoold-pid "$SPID" "$@"
