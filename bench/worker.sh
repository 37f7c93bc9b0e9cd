#!/usr/bin/env bash
# spool-worker benchmark: end-to-end throughput from a pre-filled queue, insert -> start
# latency with an idle worker, and the worker's memory (VmRSS).
#
#   bench/worker.sh [--jobs N] [--configs "P:B P:B ..."] [--latency-jobs N] [--keep]
#
#   --jobs N          jobs pre-filled for each throughput run (default 200000)
#   --configs LIST    worker configurations, PROCESSES:BATCH_SIZE (default
#                     "1:100 1:500 1:1000 2:500 2:1000 4:500")
#   --latency-jobs N  jobs submitted one at a time for the latency run (default 1000)
#
# Creates its own PostgreSQL cluster (fsync on, synchronous_commit=on, the settings of
# bench/core.sh) in a temporary directory, builds and migrates Spool into it, and prints:
#  - throughput: simulation jobs of zero duration (the connector runs them on the loop
#    thread); jobs/s = jobs / (last finished_at - first started_at), from the job rows;
#  - the same shape driven by pgbench (spool.complete_and_claim, no worker) as the
#    database's own ceiling on this machine;
#  - latency: one idle worker; pgbench submits one job per transaction at 100/s
#    (--rate 100: Poisson arrivals, 10 ms apart on average); latency = started_at -
#    created_at of each job (both database clock), p50/p90/p99/max;
#  - VmRSS of a worker idle, and the largest seen during a throughput run.
# Benchmarks measure; they never gate anything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

JOBS=200000
CONFIGS="1:100 1:500 1:1000 2:500 2:1000 4:500"
LAT_JOBS=1000
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
  --jobs) JOBS=$2; shift 2 ;;
  --configs) CONFIGS=$2; shift 2 ;;
  --latency-jobs) LAT_JOBS=$2; shift 2 ;;
  --keep) KEEP=1; shift ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH="$PGBIN:$PATH"
if [ ! -x build/spool-worker ] || [ ! -x build/spool ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 --target spool spool-worker >/dev/null
fi
case "$(grep -s '^CMAKE_BUILD_TYPE:' build/CMakeCache.txt | cut -d= -f2)" in
  Release|RelWithDebInfo) ;;
  *) echo "note: build/ is not an optimised build (CMAKE_BUILD_TYPE); figures will be low" >&2 ;;
esac

WORK=$(mktemp -d /tmp/spool-bench-worker.XXXXXX)
chmod 755 "$WORK"
WPIDS=()
cleanup() {
  for p in "${WPIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" || true
  [ "$KEEP" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

export SPOOL_PG_OPTS="-c synchronous_commit=on -c max_wal_size=8GB -c checkpoint_timeout=30min -c wal_buffers=64MB -c jit=off -c max_connections=100"
URL=$("$ROOT/scripts/pg.sh" start "$WORK/pg")
build/spool --database-url "$URL" migrate >/dev/null
psql -qX "$URL" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT spool.register_type('bench', max_attempts => 3);
SQL
q() { psql -qAtX "$URL" -v ON_ERROR_STOP=1 -c "$1"; }

echo "PostgreSQL $(q 'show server_version'), synchronous_commit=$(q 'show synchronous_commit'), $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
echo

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# fill N: N pending simulation jobs (zero duration), archive emptied, vacuumed.
fill() {
  q "TRUNCATE spool.job_archive, spool.event_log" >/dev/null 2>&1 || true
  q "DELETE FROM spool.job_live" >/dev/null
  local left=$1 chunk
  while [ "$left" -gt 0 ]; do
    chunk=$((left < 100000 ? left : 100000))
    q "SELECT count(*) FROM spool.submit_many((SELECT jsonb_agg(jsonb_build_object('type', 'bench',
        'service_required', 'simulation', 'payload', jsonb_build_object('n', g)))
        FROM generate_series(1, $chunk) g))" >/dev/null
    left=$((left - chunk))
  done
  q "VACUUM ANALYZE spool.job_live" >/dev/null
  q "VACUUM ANALYZE spool.job_archive" >/dev/null
  q "CHECKPOINT" >/dev/null
}

# start_workers P BATCH: P worker processes, quiet logs.
start_workers() {
  local p=$1 b=$2 i
  WPIDS=()
  for i in $(seq 1 "$p"); do
    SPOOL_WORKER_DATABASE_URL="$URL" SPOOL_WORKER_ID="bench-$i" SPOOL_WORKER_BATCH_SIZE="$b" \
      SPOOL_WORKER_LOG_LEVEL=warn SPOOL_WORKER_GPU_DETECT=off SPOOL_WORKER_OUTPUT_DIR="$WORK/out" \
      build/spool-worker >>"$WORK/worker-$i.log" 2>&1 &
    WPIDS+=("$!")
  done
}

stop_workers() {
  local p
  for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  WPIDS=()
}

echo "end-to-end throughput, $JOBS simulation jobs of zero duration pre-filled per run:"
printf "  %-10s %-7s %12s %10s %14s\n" processes batch "jobs/s" "seconds" "max RSS (MB)"
for c in $CONFIGS; do
  p=${c%%:*}
  b=${c##*:}
  fill "$JOBS"
  start_workers "$p" "$b"
  maxrss=0
  deadline=$((SECONDS + 600))
  # A cheap check, twice a second: the figure comes from the job rows, and a count(*) over
  # the queue here would take CPU from the run being measured.
  while [ "$(q "SELECT EXISTS (SELECT 1 FROM spool.job_live WHERE status IN ('pending', 'running'))")" = t ] &&
        [ $SECONDS -lt $deadline ]; do
    for w in "${WPIDS[@]}"; do
      r=$(rss_kb "$w")
      [ "${r:-0}" -gt "$maxrss" ] && maxrss=$r
    done
    sleep 0.5
  done
  stop_workers
  read -r n secs <<<"$(q "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))
      FROM spool.job_archive WHERE type = 'bench' AND status = 'completed'" | tr '|' ' ')"
  awk -v p="$p" -v b="$b" -v n="$n" -v s="$secs" -v r="$maxrss" 'BEGIN {
      printf "  %-10s %-7s %12.0f %10.2f %14.1f\n", p, b, (s > 0 ? n / s : 0), s, r / 1024 }'
  [ "$n" = "$JOBS" ] || echo "  (only $n of $JOBS jobs completed)"
done

# The database's own ceiling for the same work: pgbench calling complete_and_claim the way a
# worker does (batch 500 and 1000, 1 and 2 sessions), no worker process in between.
cat >"$WORK/cc.sql" <<'SQL'
SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(lease_token), '{}') AS toks FROM spool.complete_and_claim('ref-' || :client_id, :ids::uuid[], :toks::uuid[], NULL, '{"services":["simulation"]}', :batch, 60) \gset
SQL
echo
echo "reference: pgbench driving spool.complete_and_claim directly (8 s per run):"
for shape in 1:500 2:500 2:1000; do
  s=${shape%%:*}
  b=${shape##*:}
  fill "$JOBS"
  pgbench -n -M prepared -c "$s" -j "$s" -T 8 -D batch="$b" -D ids='{}' -D toks='{}' \
          -f "$WORK/cc.sql" "$URL" >/dev/null 2>&1
  # Counted from the job rows: pgbench's tps would also count calls on an empty queue.
  read -r n secs <<<"$(q "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))
      FROM spool.job_archive WHERE type = 'bench' AND status = 'completed'" | tr '|' ' ')"
  awk -v s="$s" -v b="$b" -v n="$n" -v t="$secs" 'BEGIN {
      printf "  sessions %s, batch %-5s %10.0f jobs/s (%d jobs)\n", s, b, (t > 0 ? n / t : 0), n }'
done

echo
echo "insert -> start latency, one idle worker, $LAT_JOBS jobs submitted one per transaction at 100/s:"
fill 0
start_workers 1 100
sleep 2
idle_rss=$(rss_kb "${WPIDS[0]}")
cat >"$WORK/submit.sql" <<'SQL'
SELECT 1 FROM spool.submit(type => 'bench', service_required => 'simulation', payload => '{}');
SQL
(cd "$WORK" && pgbench -n -c 1 -R 100 -t "$LAT_JOBS" -l --log-prefix="$WORK/submits" \
   -f "$WORK/submit.sql" "$URL" >/dev/null 2>&1)
sleep 1
# pgbench's per-transaction log: the 5th and 6th fields are when the client got the commit.
cat "$WORK"/submits* | awk '{ printf "%.0f\n", $5 * 1000000 + $6 }' >"$WORK/acks.txt"
q "SELECT extract(epoch FROM created_at) * 1e6, extract(epoch FROM started_at) * 1e6
     FROM spool.jobs WHERE type = 'bench' ORDER BY created_at" | tr '|' ' ' >"$WORK/rows.txt"
pct() { sort -n | awk '{ v[NR] = $1 } END {
    printf "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d jobs)\n",
      v[int(NR * 0.50 + 0.5)], v[int(NR * 0.90 + 0.5)], v[int(NR * 0.99 + 0.5)], v[NR], NR }'; }
echo "  started_at - created_at (the submit's own transaction and commit included):"
echo "    $(awk '{ print ($2 - $1) / 1000 }' "$WORK/rows.txt" | pct)"
echo "  started_at - commit acknowledged to the submitting client (same clock):"
echo "    $(paste -d' ' "$WORK/rows.txt" "$WORK/acks.txt" | awk 'NF == 3 { print ($2 - $3) / 1000 }' | pct)"
sleep 1
idle_after=$(rss_kb "${WPIDS[0]}")
stop_workers
echo
echo "worker RSS: idle after start $(awk -v r="$idle_rss" 'BEGIN { printf "%.1f", r / 1024 }') MB, idle after the latency run $(awk -v r="$idle_after" 'BEGIN { printf "%.1f", r / 1024 }') MB"
