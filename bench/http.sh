#!/usr/bin/env bash
# HTTP submit benchmark: POST /v1/jobs with keep-alive from 16 concurrent connections (wrk),
# next to the plain reference measured in the same run: pgbench with 16 clients, each
# transaction one single-row INSERT into a minimal table.
#
#   bench/http.sh [--seconds N] [--connections N]
#
# Creates its own PostgreSQL cluster (fsync on, synchronous_commit=on) and spoold, prints
# jobs/s accepted (2xx counted by wrk, checked against the rows in the database) for both.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=10
CONNS=16
while [ $# -gt 0 ]; do
  case "$1" in
  --seconds) SECS=$2; shift 2 ;;
  --connections) CONNS=$2; shift 2 ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
if [ ! -x build/spoold ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 >/dev/null
fi
WORK=$(mktemp -d /tmp/spool-bench-http.XXXXXX)
chmod 755 "$WORK"
SPID=
cleanup() {
  [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export PATH="/usr/lib/postgresql/15/bin:$PATH"
export SPOOL_PG_OPTS="-c synchronous_commit=on -c max_wal_size=8GB -c checkpoint_timeout=30min -c jit=off"
URL=$("$ROOT/scripts/pg.sh" start "$WORK/pg")
build/spool --database-url "$URL" migrate >/dev/null
psql -qX "$URL" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT spool.register_type('bench');
CREATE TABLE plain_insert (id bigserial PRIMARY KEY, type text NOT NULL, payload jsonb,
                           created_at timestamptz NOT NULL DEFAULT now());
SQL
TOKEN=$(build/spool --database-url "$URL" tokens create --role client --name bench 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
build/spoold --database-url "$URL" --listen "127.0.0.1:$PORT" --pool-size "$CONNS" --http-threads 64 --log-level warn \
  >"$WORK/spoold.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"type":"bench","payload":{"prompt":"a cat in a hat","steps":20}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
echo "PostgreSQL $(psql -XAtc 'show server_version' "$URL"), synchronous_commit=$(psql -XAtc 'show synchronous_commit' "$URL"), $(nproc) cores, $CONNS connections, ${SECS}s per run"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/jobs" >"$WORK/wrk.txt"
reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt")
rows=$(psql -XAtc "SELECT count(*) FROM spool.jobs WHERE type = 'bench'" "$URL")
dur=$(awk '/requests in/ {gsub("s,","",$4); print $4}' "$WORK/wrk.txt")
echo "spoold POST /v1/jobs (wrk, keep-alive):"
awk -v r="$reqs" -v n="${non2xx:-0}" -v d="$dur" -v rows="$rows" \
  'BEGIN { printf "  %.0f jobs/s accepted (%d requests, %d non-2xx, %d jobs in the database)\n", (r - n) / d, r, n, rows }'
grep -E "^ +(50|90|99)%" "$WORK/wrk.txt" | sed 's/^/  latency p/'

cat >"$WORK/insert.sql" <<'SQL'
INSERT INTO plain_insert (type, payload) VALUES ('bench', '{"prompt":"a cat in a hat","steps":20}');
SQL
out=$(pgbench -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -f "$WORK/insert.sql" "$URL" 2>&1)
ref=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
echo "plain reference (pgbench -M prepared, $CONNS clients, one INSERT per transaction):"
printf "  %.0f rows/s\n" "$ref"
awk -v r="$reqs" -v n="${non2xx:-0}" -v d="$dur" -v ref="$ref" \
  'BEGIN { printf "ratio spoold / reference: %.2f\n", ((r - n) / d) / ref }'
