#!/usr/bin/env bash
# Integration test of `spool import-prisma` against a real PostgreSQL.
#   SPOOL_TEST_DATABASE_URL=postgresql://... tests/integration/test_import_prisma.sh path/to/spool
# Skips (exit 77) when SPOOL_TEST_DATABASE_URL is unset. Works in scratch databases of its
# own (CREATE DATABASE on that server; dropped at the end): one per legacy schema shape,
# built from tests/fixtures/prisma_*.sql and filled by prisma_fill().
set -uo pipefail

SPOOL=${1:?usage: test_import_prisma.sh path/to/spool}
if [ -z "${SPOOL_TEST_DATABASE_URL:-}" ]; then
    echo "SPOOL_TEST_DATABASE_URL is not set: skipping"
    exit 77
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIX=$ROOT/tests/fixtures
BASE=${SPOOL_TEST_DATABASE_URL%/*}
ADMIN=$SPOOL_TEST_DATABASE_URL
unset SPOOL_DATABASE_URL SPOOL_CONFIG SPOOL_LOG_LEVEL SPOOL_CONNECT_TIMEOUT
TAG="imp$$_$RANDOM"
TMP=$(mktemp -d)
DBS=()
cleanup() {
    for d in "${DBS[@]}"; do psql -qX "$ADMIN" -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1; done
    rm -rf "$TMP"
}
trap cleanup EXIT

passed=0
failed=0
OUT= ERR= RC=
run() {
    "$SPOOL" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    echo "    rc=$RC"
    echo "    stdout: ${OUT:0:1500}"
    echo "    stderr: ${ERR:0:800}"
}
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
rc_is() { [ "$RC" = "$1" ]; }
out_has() { grep -qF -- "$1" <<<"$OUT"; }
err_has() { grep -qF -- "$1" <<<"$ERR"; }
q() { psql "$1" -qAtX -v ON_ERROR_STOP=1 -c "$2"; }
# newdb NAME: creates a scratch database and prints its URL.
newdb() {
    local d="${TAG}_$1"
    psql -qX "$ADMIN" -c "CREATE DATABASE $d" >/dev/null || exit 1
    DBS+=("$d")
    echo "$BASE/$d"
}
# legacy URL STEP CHAINS: builds shape STEP (0..6) in URL and fills it.
legacy() {
    local f
    for f in "$FIX"/prisma_[0-9]_*.sql; do
        local n=${f##*/prisma_}
        [ "${n%%_*}" -le "$2" ] || continue
        psql -qX -v ON_ERROR_STOP=1 "$1" -f "$f" >/dev/null || return 1
    done
    psql -qX -v ON_ERROR_STOP=1 "$1" -f "$FIX/prisma_fill.sql" -c "SELECT prisma_fill($3)" >/dev/null
}

# ---- every shape, two databases: detected, imported, verified ------------------------------
shapes=("2025-05-16 initial" "2025-06-11 tasks" "2025-06-22 retries" "2025-07-13 Task.priceInDollars"
        "2025-07-29 Job.priceInDollars" "2025-07-30 priceInDollars" "pg-boss era")
for step in 0 1 2 3 4 5 6; do
    src=$(newdb "s$step")
    dst=$(newdb "t$step")
    legacy "$src" "$step" 120 || { RC=x; not_ok "shape $step fixture"; continue; }
    "$SPOOL" --database-url "$dst" migrate >/dev/null
    run import-prisma --source-url "$src" --target-url "$dst" --batch 37 --progress none
    check "shape $step (${shapes[$step]}): detected and imported" eval \
        'rc_is 0 && out_has "shape \"${shapes[$step]}" && out_has "two databases" && out_has "totals: source and target match"'
    n_src=$(q "$src" 'SELECT count(*) FROM "Job"')
    n_dst=$(q "$dst" "SELECT count(*) FROM spool.jobs WHERE type = 'evaluation'")
    check "shape $step: every job imported once ($n_src)" test "$n_src" = "$n_dst"
    run import-prisma --source-url "$src" --target-url "$dst" --verify --progress none
    check "shape $step: --verify passes" eval 'rc_is 0 && out_has "0 differences" && out_has ": ok"'
    if [ "$step" = 2 ]; then SRC2=$src; DST2=$dst; fi
done

# ---- same database, newest shape: every mapped field, row by row ----------------------------
same=$(newdb same)
legacy "$same" 6 300
"$SPOOL" --database-url "$same" migrate >/dev/null
run import-prisma --source-url "$same" --progress none --json
check "same database: imported" eval 'rc_is 0 && jq -e ".mode == \"same-database\" and .run.inserted > 400" <<<"$OUT" >/dev/null'
check "same database: the type was registered with a long retention" test \
    "$(q "$same" "SELECT max_attempts || ' ' || retention FROM spool.job_types WHERE name = 'evaluation'")" = "3 100 years"

fields_sql=$(cat <<'SQL'
WITH x AS (
  SELECT j.*, s.*, e."documentId" AS doc, e."agentId" AS agent,
         (SELECT max(r."createdAt") FROM "Job" r
           WHERE r."originalJobId" = coalesce(j."originalJobId", j.id)) AS chain_last
    FROM "Job" j JOIN "Evaluation" e ON e.id = j."evaluationId"
    LEFT JOIN spool.jobs s ON s.id = spool.import_uuid(j.id)
)
SELECT f, count(*) FROM (
  SELECT unnest(ARRAY[
    CASE WHEN x.id IS NULL THEN 'missing' END,
    CASE WHEN x.status <> CASE x."status"::text WHEN 'PENDING' THEN 'pending' WHEN 'RUNNING' THEN 'pending'
         WHEN 'COMPLETED' THEN 'completed' WHEN 'CANCELLED' THEN 'cancelled'
         ELSE CASE WHEN x.chain_last > x."createdAt" THEN 'failed' ELSE 'dead' END END THEN 'status' END,
    CASE WHEN (x.status = 'pending') <> EXISTS (SELECT 1 FROM spool.job_live l WHERE l.id = x.id) THEN 'table' END,
    CASE WHEN x.type <> 'evaluation' THEN 'type' END,
    CASE WHEN x.attempts <> x."attempts" THEN 'attempts' END,
    CASE WHEN x.error IS DISTINCT FROM x."error" THEN 'error' END,
    CASE WHEN x.payload <> jsonb_build_object('evaluationId', x."evaluationId",
         'evaluationVersionId', x."evaluationVersionId", 'agentEvalBatchId', x."agentEvalBatchId",
         'documentId', x.doc, 'agentId', x.agent) THEN 'payload' END,
    CASE WHEN x.result IS DISTINCT FROM CASE WHEN x."llmThinking" IS NULL AND x."durationInSeconds" IS NULL AND x."logs" IS NULL
         THEN NULL ELSE jsonb_build_object('llmThinking', x."llmThinking", 'durationInSeconds', x."durationInSeconds",
         'logs', x."logs") END THEN 'result' END,
    CASE WHEN x.cost IS DISTINCT FROM x."priceInDollars" THEN 'cost' END,
    CASE WHEN x.created_at <> x."createdAt" AT TIME ZONE 'UTC' OR x.run_at <> x.created_at THEN 'created_at' END,
    CASE WHEN x.started_at IS DISTINCT FROM CASE WHEN x."status"::text = 'RUNNING' THEN NULL
         ELSE x."startedAt" AT TIME ZONE 'UTC' END THEN 'started_at' END,
    CASE WHEN x.finished_at IS DISTINCT FROM CASE x."status"::text WHEN 'PENDING' THEN NULL WHEN 'RUNNING' THEN NULL
         WHEN 'CANCELLED' THEN coalesce(x."cancelledAt", x."completedAt", x."updatedAt") AT TIME ZONE 'UTC'
         ELSE coalesce(x."completedAt", x."updatedAt") AT TIME ZONE 'UTC' END THEN 'finished_at' END,
    CASE WHEN x.original_job_id IS DISTINCT FROM spool.import_uuid(x."originalJobId") THEN 'original_job_id' END,
    CASE WHEN x.cancel_reason IS DISTINCT FROM x."cancellationReason"
           OR x.cancel_requested_at IS DISTINCT FROM x."cancelledAt" AT TIME ZONE 'UTC' THEN 'cancel' END,
    CASE WHEN x.metadata->'legacy'->>'id' <> x."id" OR x.metadata->'legacy'->>'status' <> x."status"::text
           OR x.metadata->'legacy'->>'pgBossJobId' IS DISTINCT FROM x."pgBossJobId"
           OR x.metadata->'legacy'->>'cancelledById' IS DISTINCT FROM x."cancelledById"
           OR x.metadata->'legacy'->'telemetryProgress' IS DISTINCT FROM x."telemetryProgress" THEN 'metadata' END,
    CASE WHEN (SELECT count(*) FROM "Task" t WHERE t."jobId" = x."id")
           <> (SELECT count(*) FROM spool.job_tasks k WHERE k.job_id = x.id) THEN 'task count' END
  ]) AS f FROM x
) y WHERE f IS NOT NULL GROUP BY f ORDER BY f
SQL
)
bad=$(q "$same" "$fields_sql")
check "same database: every job field maps as documented${bad:+ (mismatches: $bad)}" test -z "$bad"
task_sql='SELECT count(*) FROM "Task" t LEFT JOIN spool.job_tasks k ON k.id = spool.import_uuid(t.id, '"'Task'"')
  WHERE k.id IS NULL OR k.job_id <> spool.import_uuid(t."jobId") OR k.legacy_id <> t.id OR k.name <> t.name
     OR k.model <> t."modelName" OR k.price <> t."priceInDollars" OR k.time_seconds IS DISTINCT FROM t."timeInSeconds"
     OR k.log IS DISTINCT FROM t.log OR k.llm_interactions IS DISTINCT FROM t."llmInteractions"
     OR k.created_at <> t."createdAt" AT TIME ZONE '"'UTC'"' OR k.updated_at <> t."updatedAt" AT TIME ZONE '"'UTC'"''
check "same database: every task field maps as documented" test "$(q "$same" "$task_sql")" = 0
check "cost totals are exact (sum of dollars)" test \
    "$(q "$same" 'SELECT sum("priceInDollars") = (SELECT sum(cost) FROM spool.jobs) FROM "Job"')" = t
check "non-UUID legacy ids get the documented UUIDv8 and keep the legacy id" test \
    "$(q "$same" "SELECT count(*) > 0 AND bool_and(substr(id::text, 15, 1) = '8') FROM spool.jobs WHERE length(metadata->'legacy'->>'id') = 25")" = t
chains_src=$(q "$same" 'SELECT count(DISTINCT "originalJobId") || '"' '"' || max(n) FROM (SELECT "originalJobId", count(*) OVER (PARTITION BY "originalJobId") + 1 AS n FROM "Job" WHERE "originalJobId" IS NOT NULL) x')
chains_dst=$(q "$same" 'SELECT count(*) || '"' '"' || max(jobs) FROM spool.retry_chains')
check "retry chains (up to 4 deep) show in spool.retry_chains ($chains_src)" test "$chains_src" = "$chains_dst"
dead_retry=$(q "$same" "SELECT id FROM spool.jobs WHERE status = 'dead' AND original_job_id IS NOT NULL LIMIT 1")
root=$(q "$same" "SELECT original_job_id FROM spool.jobs WHERE id = '$dead_retry'")
check "spool.retry of an imported retry links the new job to the chain's root" test \
    "$(q "$same" "SELECT original_job_id FROM spool.retry('$dead_retry')")" = "$root"

# ---- idempotence -------------------------------------------------------------------------
snap() { q "$1" "SELECT md5(string_agg(j::text, '' ORDER BY id)) FROM spool.jobs j WHERE type = 'evaluation'"; }
before=$(snap "$DST2")
run import-prisma --source-url "$SRC2" --target-url "$DST2" --progress none --json
check "second run changes nothing" eval \
    'rc_is 0 && jq -e ".run.inserted == 0 and .run.updated == 0 and .run.unchanged > 0" <<<"$OUT" >/dev/null'
check "second run leaves every job as it was" test "$before" = "$(snap "$DST2")"

# ---- --since: new and changed rows only --------------------------------------------------
since=$(q "$SRC2" "SELECT now()")
q "$SRC2" "SELECT prisma_fill(10, -1, 100000)" >/dev/null
q "$SRC2" "UPDATE \"Job\" SET \"updatedAt\" = now() AT TIME ZONE 'UTC' WHERE \"createdAt\" > '2025-06-02'" >/dev/null
changed=$(q "$SRC2" "UPDATE \"Job\" SET status = 'COMPLETED', \"completedAt\" = now() AT TIME ZONE 'UTC', \"updatedAt\" = now() AT TIME ZONE 'UTC' WHERE id = (SELECT id FROM \"Job\" WHERE status = 'PENDING' AND \"createdAt\" < '2025-06-02' ORDER BY id LIMIT 1) RETURNING id")
new_n=$(q "$SRC2" "SELECT count(*) FROM \"Job\" WHERE \"createdAt\" > '2025-06-02'")
run import-prisma --source-url "$SRC2" --target-url "$DST2" --since "$since" --progress none --json
check "--since imports only the new ($new_n) and the changed (1) rows" eval \
    'rc_is 0 && jq -e ".run.inserted == $new_n and .run.updated == 1 and .run.scanned == $new_n + 1" <<<"$OUT" >/dev/null'
check "--since: the changed row is updated" test \
    "$(q "$DST2" "SELECT status FROM spool.jobs WHERE id = spool.import_uuid('$changed')")" = completed
run import-prisma --source-url "$SRC2" --target-url "$DST2" --verify --progress none
check "--verify after --since passes" eval 'rc_is 0 && out_has ": ok"'

# ---- --verify catches a tampered row -----------------------------------------------------
victim=$(q "$DST2" "SELECT id FROM spool.job_archive WHERE type = 'evaluation' ORDER BY id LIMIT 1")
q "$DST2" "UPDATE spool.job_archive SET cost = cost + 0.01 WHERE id = '$victim'" >/dev/null
run import-prisma --source-url "$SRC2" --target-url "$DST2" --verify --progress none
check "--verify reports a tampered job and exits 1" eval \
    'rc_is 1 && out_has "mismatch: legacy job" && out_has "$victim) cost" && out_has "FAILED"'

# ---- conflicts: a job Spool has run since is never overwritten ---------------------------
pend=$(q "$DST2" "SELECT metadata->'legacy'->>'id' FROM spool.job_live WHERE type = 'evaluation' AND status = 'pending' ORDER BY id LIMIT 1")
q "$DST2" "SELECT count(*) FROM spool.claim('w1', '{}', 1000)" >/dev/null
q "$SRC2" "UPDATE \"Job\" SET error = 'changed', \"updatedAt\" = now() AT TIME ZONE 'UTC' WHERE id = '$pend'" >/dev/null
run import-prisma --source-url "$SRC2" --target-url "$DST2" --progress none --json
check "a legacy change to a job Spool has claimed is a conflict, left alone" eval \
    'rc_is 0 && jq -e ".run.conflicts == 1 and .run.updated == 0" <<<"$OUT" >/dev/null && err_has "event=conflict"'
check "the claimed job is still running" test \
    "$(q "$DST2" "SELECT status FROM spool.jobs WHERE id = spool.import_uuid('$pend')")" = running

# ---- resumption after a kill -------------------------------------------------------------
src=$(newdb resume_s)
dst=$(newdb resume_t)
legacy "$src" 2 1500
"$SPOOL" --database-url "$dst" migrate >/dev/null
total=$(q "$src" 'SELECT count(*) FROM "Job"')
"$SPOOL" import-prisma --source-url "$src" --target-url "$dst" --batch 3 --progress none >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    done_rows=$(q "$dst" "SELECT coalesce(max(rows_done), 0) FROM spool.import_runs")
    [ "${done_rows:-0}" -ge 150 ] && break
    sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
at_kill=$(q "$dst" "SELECT rows_done || ' ' || status FROM spool.import_runs")
check "killed mid-run (rows_done status: $at_kill of $total)" eval '[ "${at_kill% *}" -lt "$total" ] && [ "${at_kill#* }" = running ]'
check "what was committed is whole: jobs = rows_done" test \
    "$(q "$dst" "SELECT count(*) FROM spool.jobs")" = "$(q "$dst" "SELECT rows_done FROM spool.import_runs")"
run import-prisma --source-url "$src" --target-url "$dst" --batch 500 --progress none --json
check "the next run resumes and finishes" eval \
    'rc_is 0 && jq -e ".resumed and .run.scanned == ($total - ${at_kill% *})" <<<"$OUT" >/dev/null'
check "no job twice after resuming" test "$(q "$dst" "SELECT count(DISTINCT id) || ' ' || count(*) FROM spool.jobs")" = "$total $total"
run import-prisma --source-url "$src" --target-url "$dst" --verify --progress none
check "--verify after resumption passes" eval 'rc_is 0 && out_has ": ok"'

# ---- --dry-run writes nothing; --running fail --------------------------------------------
dst=$(newdb dry)
"$SPOOL" --database-url "$dst" migrate >/dev/null
run import-prisma --source-url "$SRC2" --target-url "$dst" --dry-run --progress none
check "--dry-run reports what would happen" eval 'rc_is 0 && out_has "DRY RUN" && out_has "would be:"'
check "--dry-run wrote nothing" test \
    "$(q "$dst" "SELECT (SELECT count(*) FROM spool.jobs) + (SELECT count(*) FROM spool.import_runs) + (SELECT count(*) FROM spool.job_types)")" = 0
run import-prisma --source-url "$SRC2" --target-url "$dst" --running fail --type legacy_eval --progress none
check "--running fail: RUNNING rows end dead, interrupted by migration; --type names the type" test \
    "$(q "$dst" "SELECT count(*) FILTER (WHERE status <> 'dead' OR error <> 'interrupted by migration') || ' ' || count(*) FILTER (WHERE type = 'legacy_eval') FROM spool.jobs WHERE metadata->'legacy'->>'status' = 'RUNNING'")" \
    "=" "0 $(q "$SRC2" "SELECT count(*) FROM \"Job\" WHERE status = 'RUNNING'")"

# ---- bad input ---------------------------------------------------------------------------
run import-prisma --source-url "postgresql://u:sekret@127.0.0.1:1/x" --target-url "$dst" --progress none
check "unreachable source: clear message, password redacted" eval \
    'rc_is 1 && err_has "could not connect to the source" && ! err_has sekret'
odd=$(newdb odd)
q "$odd" 'CREATE TABLE "Job" (id text PRIMARY KEY, status text, priority int); CREATE TABLE "Evaluation" (id text, "documentId" text, "agentId" text)' >/dev/null
run import-prisma --source-url "$odd" --target-url "$dst" --progress none
check "unrecognised schema: says so and what differs" eval \
    'rc_is 1 && err_has "unrecognised schema" && err_has "\"priority\""'
broken=$(newdb broken)
legacy "$broken" 2 40
q "$broken" 'ALTER TABLE "Job" DROP CONSTRAINT "Job_originalJobId_fkey"; UPDATE "Job" SET "originalJobId" = '"'no-such-job'"' WHERE id = (SELECT id FROM "Job" WHERE "originalJobId" IS NOT NULL ORDER BY id LIMIT 1)' >/dev/null
dst=$(newdb broken_t)
"$SPOOL" --database-url "$dst" migrate >/dev/null
run import-prisma --source-url "$broken" --target-url "$dst" --progress none
check "a retry naming a missing root: clear message" eval \
    'rc_is 1 && err_has "name an original job that does not exist" && err_has "no-such-job"'
check "... and nothing was imported" test "$(q "$dst" "SELECT count(*) FROM spool.jobs")" = 0
run import-prisma --source-url "$SRC2" --target-url "$(newdb unmigrated)" --progress none
check "an unmigrated target: says to migrate" eval 'rc_is 1 && err_has "spool migrate"'
run import-prisma --target-url "$dst"
check "--source-url is required" eval 'rc_is 2 && err_has "--source-url is required"'
run import-prisma --source-url "$SRC2" --running maybe
check "--running takes requeue or fail" eval 'rc_is 2 && err_has "--running must be requeue or fail"'

echo "# passed $passed, failed $failed"
[ "$failed" = 0 ]
