#!/usr/bin/env bash
# import-prisma benchmark: a Prisma-era database of --chains retry chains (625,000 chains
# = 1,000,000 "Job" rows) with --tasks tasks per job (3: 3,000,000 "Task" rows), imported
# into Spool; prints jobs/s (tasks included) and the importer's maximum RSS.
#
#   bench/import.sh [--chains N] [--tasks N] [--batch N] [--same-db] [--keep]
#
# Creates its own PostgreSQL cluster (scripts/pg.sh; fsync and synchronous_commit on, WAL
# sized like bench/core.sh so that checkpoints do not land inside the run) in a temporary
# directory, builds Spool if needed, generates the legacy data with SQL generate_series
# (tests/fixtures/prisma_*.sql, the 2025-06-22 shape: costInCents, Task.priceInCents,
# retries), migrates the target and times `spool import-prisma` under /usr/bin/time -v.
# Two databases on that cluster by default; --same-db imports next to the legacy tables.
# SPOOL_BENCH_BUILD=DIR uses the binaries of another build tree (default build).
# Figures measure; nothing here gates CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

CHAINS=625000
TASKS=3
BATCH=5000
SAME=0
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
  --chains) CHAINS=$2; shift 2 ;;
  --tasks) TASKS=$2; shift 2 ;;
  --batch) BATCH=$2; shift 2 ;;
  --same-db) SAME=1; shift ;;
  --keep) KEEP=1; shift ;;
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
  *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH="$PGBIN:$PATH"
BUILD=${SPOOL_BENCH_BUILD:-build}
if [ ! -x "$BUILD/spool" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j2 >/dev/null
fi

WORK=$(mktemp -d /tmp/spool-bench-import.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" || true
  [ "$KEEP" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

export SPOOL_PG_OPTS="-c synchronous_commit=on -c max_wal_size=8GB -c checkpoint_timeout=30min -c wal_buffers=64MB -c jit=off"
# The cluster must not inherit this script's other descriptors: one of them may be the lock of
# `flock /tmp/spool-bench.lock bench/import.sh`, which a postgres left behind would hold.
start_pg() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] && [ "$fd" != 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  "$ROOT/scripts/pg.sh" start "$WORK/pg"
}
URL=$(start_pg)
BASE=${URL%/*}
psql -qX "$URL" -c "CREATE DATABASE legacy" -c "CREATE DATABASE spool"
SRC=$BASE/legacy
DST=$BASE/spool
[ "$SAME" = 1 ] && DST=$SRC
for f in 0_init 1_tasks 2_retries; do
  psql -qX -v ON_ERROR_STOP=1 "$SRC" -f "tests/fixtures/prisma_$f.sql" >/dev/null
done
psql -qX -v ON_ERROR_STOP=1 "$SRC" -f tests/fixtures/prisma_fill.sql >/dev/null
echo "PostgreSQL $(psql -XAtc 'show server_version' "$URL"), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s)
psql -qXAt "$SRC" -c "SELECT prisma_fill($CHAINS, $TASKS)" -c "VACUUM ANALYZE" >/dev/null
jobs=$(psql -XAt "$SRC" -c 'SELECT count(*) FROM "Job"')
tasks=$(psql -XAt "$SRC" -c 'SELECT count(*) FROM "Task"')
echo "generated $jobs jobs and $tasks tasks in $(( $(date +%s) - t0 )) s"
"$BUILD/spool" --database-url "$DST" migrate >/dev/null
psql -qX "$DST" -c CHECKPOINT

echo "load average before the import: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -v "$BUILD/spool" --database-url "$DST" import-prisma --source-url "$SRC" \
  --batch "$BATCH" --progress log >"$WORK/report" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/log")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/log")
secs=$(awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }' <<<"$wall")
sed -n '1,3p' "$WORK/report"
grep -E '^totals' "$WORK/report" || true
awk -v j="$jobs" -v t="$tasks" -v s="$secs" -v r="$rss" -v m="$([ "$SAME" = 1 ] && echo same-database || echo two-databases)" \
  'BEGIN { printf "import-prisma (%s): %d jobs + %d tasks in %.1f s wall = %.0f jobs/s (%.0f rows/s); max RSS %.1f MiB\n", m, j, t, s, j / s, (j + t) / s, r / 1024 }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
