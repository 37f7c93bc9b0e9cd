#!/usr/bin/env bash
# HTTP submit benchmark: POST /v1/jobs with keep-alive from 16 concurrent connections (wrk),
# next to the plain reference measured in the same run: pgbench with 16 clients, each
# transaction one single-row INSERT into a minimal table (-M prepared).
#
#   bench/http.sh [--seconds N] [--connections N] [--http-threads N] [--pool-size N]
#
# Creates its own PostgreSQL cluster (fsync on, synchronous_commit=on), migrates, registers
# the type "bench", creates a client token and starts spoold on a free loopback port. Prints
# jobs/s accepted (2xx counted by wrk, checked against count(*) in the database) for both, and
# their ratio. SPOOL_BENCH_BUILD=DIR uses the binaries of another build tree (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
SECS=10
CONNS=16
THREADS=2
POOL=
while [ $# -gt 0 ]; do
  case "$1" in
  --seconds) SECS=$2; shift 2 ;;
  --connections) CONNS=$2; shift 2 ;;
  --http-threads) THREADS=$2; shift 2 ;;
  --pool-size) POOL=$2; shift 2 ;;
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
POOL=${POOL:-$CONNS}
spool_install_packages "${SPOOL_BENCH_PACKAGES[@]}"
BUILD=${SPOOL_BENCH_BUILD:-build}
if [ ! -x "$BUILD/spoold" ] || [ ! -x "$BUILD/spool" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j2 >/dev/null
fi
WORK=$(mktemp -d /tmp/spool-bench-http.XXXXXX)
chmod 755 "$WORK"
SPID=
cleanup() {
  if [ -n "$SPID" ]; then kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; fi
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export PATH="$SPOOL_PGBIN:$PATH"
export SPOOL_PG_OPTS="-c synchronous_commit=on -c max_wal_size=8GB -c checkpoint_timeout=30min -c jit=off"
URL=$("$ROOT/scripts/pg.sh" start "$WORK/pg")
"$BUILD/spool" --database-url "$URL" migrate >/dev/null
psql -qX "$URL" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT spool.register_type('bench');
CREATE TABLE plain_insert (id bigserial PRIMARY KEY, type text NOT NULL, payload jsonb,
                           created_at timestamptz NOT NULL DEFAULT now());
SQL
TOKEN=$("$BUILD/spool" --database-url "$URL" tokens create --role client --name bench 2>/dev/null)
PORT=$(spool_free_port)
"$BUILD/spoold" --database-url "$URL" --listen "127.0.0.1:$PORT" --pool-size "$POOL" \
  --http-threads "$THREADS" --log-level warn >"$WORK/spoold.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/spoold.log" >&2; exit 1; }

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"type":"bench","payload":{"prompt":"a cat in a hat","steps":20}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
echo "PostgreSQL $(psql -XAtc 'show server_version' "$URL"), synchronous_commit=$(psql -XAtc 'show synchronous_commit' "$URL"), $(nproc) cores, $CONNS connections, ${SECS}s per run"
echo "spoold --pool-size $POOL --http-threads $THREADS"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/jobs" >"$WORK/wrk.txt"
reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt")
dur=$(awk '/requests in/ {gsub("s,","",$4); print $4}' "$WORK/wrk.txt")
rows=$(psql -XAtc "SELECT count(*) FROM spool.jobs WHERE type = 'bench'" "$URL")
echo "spoold POST /v1/jobs (wrk, keep-alive):"
awk -v r="$reqs" -v n="${non2xx:-0}" -v d="$dur" -v rows="$rows" \
  'BEGIN { printf "  %.0f jobs/s accepted (%d requests, %d non-2xx, %d jobs in the database in %.2f s)\n", (r - n) / d, r, n, rows, d }'
awk '/^ +(50|90|99)%/ { sub("%", "", $1); l = l sep "p" $1 " " $2; sep = ", " }
     END { print "  latency " l }' "$WORK/wrk.txt"
if [ "${non2xx:-0}" != 0 ]; then
  echo "  first errors in spoold's log:"
  grep -m5 -E "status=[45]" "$WORK/spoold.log" | sed 's/^/    /' || true
fi

cat >"$WORK/insert.sql" <<'SQL'
INSERT INTO plain_insert (type, payload) VALUES ('bench', '{"prompt":"a cat in a hat","steps":20}');
SQL
out=$(pgbench -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -f "$WORK/insert.sql" "$URL" 2>&1)
ref=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
refrows=$(psql -XAtc "SELECT count(*) FROM plain_insert" "$URL")
echo "plain reference (pgbench -M prepared, $CONNS clients, one INSERT per transaction):"
printf "  %.0f rows/s (%d rows in the table)\n" "$ref" "$refrows"
awk -v r="$reqs" -v n="${non2xx:-0}" -v d="$dur" -v ref="$ref" \
  'BEGIN { printf "ratio spoold / reference: %.2f\n", ((r - n) / d) / ref }'
