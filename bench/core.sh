#!/usr/bin/env bash
# Core throughput benchmark: bulk submit, and claim + complete at batch 1, 10 and 100 with 1,
# 4 and 16 sessions, next to the same shapes on a minimal SKIP LOCKED table (the reference).
#
#   bench/core.sh [--seconds N] [--sessions "1 4 16"] [--batches "1 10 100"] [--keep]
#
# Creates its own PostgreSQL cluster (synchronous_commit=on, fsync=on) in a temporary
# directory, builds and migrates Spool into it, runs pgbench, prints the figures and stops
# the cluster. Figures are jobs per second: for claim + complete, pgbench transactions per
# second times the batch size (each spool transaction completes one batch and claims the
# next; each reference iteration claims one batch and deletes it in a second transaction).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SECONDS_PER_RUN=8
SESSIONS="1 4 16"
BATCHES="1 10 100"
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
  --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
  --sessions) SESSIONS=$2; shift 2 ;;
  --batches) BATCHES=$2; shift 2 ;;
  --keep) KEEP=1; shift ;;
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH="$PGBIN:$PATH"
if [ ! -x build/spool ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j2 >/dev/null
fi

WORK=$(mktemp -d /tmp/spool-bench.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  "$ROOT/scripts/pg.sh" stop "$WORK/pg" || true
  [ "$KEEP" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# Durable settings (fsync, synchronous_commit on); sized so checkpoints do not land inside
# a short run, as on a queue database in production.
export SPOOL_PG_OPTS="-c synchronous_commit=on -c max_wal_size=8GB -c checkpoint_timeout=30min -c wal_buffers=64MB -c jit=off -c max_connections=100"
URL=$("$ROOT/scripts/pg.sh" start "$WORK/pg")
build/spool --database-url "$URL" migrate >/dev/null
psql -qX "$URL" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT spool.register_type('bench', max_attempts => 3);
CREATE TABLE plain_q (
    id       bigserial PRIMARY KEY,
    priority integer NOT NULL DEFAULT 0,
    run_at   timestamptz NOT NULL DEFAULT now(),
    status   text NOT NULL DEFAULT 'pending',
    payload  jsonb,
    locked_by text,
    locked_at timestamptz
);
CREATE INDEX plain_q_claim ON plain_q (priority DESC, run_at, id) WHERE status = 'pending';
SQL

echo "PostgreSQL $(psql -XAtc 'show server_version' "$URL"), synchronous_commit=$(psql -XAtc 'show synchronous_commit' "$URL"), $(nproc) cores"
echo

# --- bulk submit: one submit_many call with 100,000 jobs, sent as JSON text -------------
jobs_json="$WORK/jobs.json"
psql -XAt "$URL" -c "SELECT jsonb_agg(jsonb_build_object('type','bench','payload',jsonb_build_object('n',g,'prompt','a cat in a hat'))) FROM generate_series(1,100000) g" >"$jobs_json"
cat >"$WORK/submit.sql" <<SQL
\\set jobs \`cat $jobs_json\`
\\timing on
SELECT count(*) FROM spool.submit_many(:'jobs');
SELECT count(*) FROM spool.submit_many(:'jobs');
SELECT count(*) FROM spool.submit_many(:'jobs');
SELECT count(*) FROM spool.submit_many(:'jobs');
SELECT count(*) FROM spool.submit_many(:'jobs');
SQL
times=$(psql -XAq "$URL" -f "$WORK/submit.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
echo "bulk submit (spool.submit_many, 100,000 jobs per call, 5 calls, 1 session):"
echo "$times" | awk '{ printf "  call %d: %8.0f ms  %8.0f jobs/s\n", NR, $1, 100000 / ($1 / 1000) }'
echo "$times" | awk '{ print 100000 / ($1 / 1000) }' | sort -n | awk '{ v[NR] = $1 } END { printf "  median: %.0f jobs/s\n", v[int((NR + 1) / 2)] }'

# The same calls from 2 sessions at once (one per core): aggregate jobs/s over the wall time.
cat >"$WORK/submit2.sql" <<SQL
\\set jobs \`cat $jobs_json\`
SELECT count(*) FROM spool.submit_many(:'jobs');
SELECT count(*) FROM spool.submit_many(:'jobs');
SELECT count(*) FROM spool.submit_many(:'jobs');
SQL
t0=$(date +%s.%N)
psql -XAq "$URL" -f "$WORK/submit2.sql" >/dev/null & p1=$!
psql -XAq "$URL" -f "$WORK/submit2.sql" >/dev/null & p2=$!
wait $p1 $p2
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "  2 sessions x 3 calls: %.0f jobs/s (600,000 jobs in %.2f s)\n", 600000 / (b - a), b - a }'

# --- claim + complete ------------------------------------------------------------------
cat >"$WORK/spool_cc.sql" <<'SQL'
SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(lease_token), '{}') AS toks FROM spool.complete_and_claim('bench-' || :client_id, :ids::uuid[], :toks::uuid[], NULL, '{}', :batch, 300) \gset
SQL
cat >"$WORK/spool_2rt.sql" <<'SQL'
SELECT coalesce(array_agg(id), '{}') AS ids, coalesce(array_agg(lease_token), '{}') AS toks FROM spool.claim('bench-' || :client_id, '{}', :batch, 300) \gset
SELECT count(*) FROM spool.complete_many(:ids::uuid[], :toks::uuid[], NULL);
SQL
cat >"$WORK/plain.sql" <<'SQL'
WITH c AS (SELECT id FROM plain_q WHERE status = 'pending' AND run_at <= now() ORDER BY priority DESC, run_at, id LIMIT :batch FOR UPDATE SKIP LOCKED), u AS (UPDATE plain_q q SET status = 'running', locked_by = 'w' || :client_id, locked_at = now() FROM c WHERE q.id = c.id RETURNING q.id) SELECT coalesce(array_agg(id), '{}') AS ids FROM u \gset
DELETE FROM plain_q WHERE id = ANY(:ids::bigint[]);
SQL

fill() { # fill TARGET: top up both queues to TARGET pending jobs, then vacuum
  local target=$1
  psql -XAq "$URL" -v ON_ERROR_STOP=1 -v target="$target" >/dev/null <<'SQL'
SELECT count(*) FROM spool.submit_many((SELECT coalesce(jsonb_agg(jsonb_build_object('type','bench','payload',jsonb_build_object('n',g))), '[]')
    FROM generate_series(1, greatest(0, :target - (SELECT count(*) FROM spool.job_live WHERE status = 'pending'))) g));
INSERT INTO plain_q (payload) SELECT jsonb_build_object('n', g)
    FROM generate_series(1, greatest(0, :target - (SELECT count(*) FROM plain_q WHERE status = 'pending'))) g;
DELETE FROM spool.job_live WHERE status = 'running';
DELETE FROM plain_q WHERE status = 'running';
VACUUM ANALYZE spool.job_live;
VACUUM ANALYZE plain_q;
SQL
}

run() { # run SCRIPT SESSIONS BATCH -> jobs/s
  local out tps
  out=$(pgbench -n -M prepared -c "$2" -j "$2" -T "$SECONDS_PER_RUN" -D batch="$3" -D ids='{}' -D toks='{}' -f "$1" "$URL" 2>&1) || { echo "$out" >&2; return 1; }
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  awk -v t="$tps" -v b="$3" 'BEGIN { printf "%.0f", t * b }'
}

echo
echo "claim + complete, jobs/s (${SECONDS_PER_RUN}s per run, pgbench -M prepared):"
printf "  %-8s %-6s %16s %16s %16s\n" sessions batch "spool 1-trip" "spool 2-trip" "plain SQL ref"
for b in $BATCHES; do
  for s in $SESSIONS; do
    if [ "$b" -ge 100 ]; then target=600000; elif [ "$b" -ge 10 ]; then target=300000; else target=100000; fi
    fill "$target"; a=$(run "$WORK/spool_cc.sql" "$s" "$b")
    fill "$target"; c=$(run "$WORK/spool_2rt.sql" "$s" "$b")
    fill "$target"; p=$(run "$WORK/plain.sql" "$s" "$b")
    printf "  %-8s %-6s %16s %16s %16s\n" "$s" "$b" "$a" "$c" "$p"
  done
done
echo
echo "spool 1-trip: spool.complete_and_claim (complete the last batch and claim the next in one call)"
echo "spool 2-trip: spool.claim, then spool.complete_many (two transactions per batch)"
echo "plain SQL ref: minimal table, UPDATE ... FOR UPDATE SKIP LOCKED claim, then DELETE (no history, no events)"
