#!/usr/bin/env bash
# Integration test of the spool CLI against a real PostgreSQL.
#   SPOOL_TEST_DATABASE_URL=postgresql://... tests/integration/test_cli.sh path/to/spool
# Skips (exit 77) when SPOOL_TEST_DATABASE_URL is unset. Leaves the database migrated; the
# jobs it creates use a type named itest_<random> so runs do not disturb each other.
set -uo pipefail

SPOOL=${1:?usage: test_cli.sh path/to/spool}
if [ -z "${SPOOL_TEST_DATABASE_URL:-}" ]; then
    echo "SPOOL_TEST_DATABASE_URL is not set: skipping"
    exit 77
fi
URL=$SPOOL_TEST_DATABASE_URL
export SPOOL_DATABASE_URL=$URL
unset SPOOL_CONFIG SPOOL_LOG_LEVEL SPOOL_CONNECT_TIMEOUT
TYPE="itest_$RANDOM$RANDOM"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0
OUT= ERR= RC=

# run ARGS...: runs spool, keeping stdout, stderr and the exit code.
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
    echo "    stdout: ${OUT:0:600}"
    echo "    stderr: ${ERR:0:600}"
}
# check NAME CONDITION...: passes when the condition (a command) succeeds.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
rc_is() { [ "$RC" = "$1" ]; }
out_has() { grep -qF -- "$1" <<<"$OUT"; }
err_has() { grep -qF -- "$1" <<<"$ERR"; }
jq_true() { jq -e "$1" <<<"$OUT" >/dev/null 2>&1; }
psql_q() { psql "$URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# ---- migrate ------------------------------------------------------------------------------
run migrate
check "migrate succeeds" rc_is 0
run migrate
check "second migrate is a no-op" eval 'rc_is 0 && out_has "database is up to date"'
run --json migrate
check "migrate --json reports nothing applied" eval 'rc_is 0 && jq_true ".count == 0 and .up_to_date"'
run migrate --check
check "migrate --check: ready" eval 'rc_is 0 && out_has "up to date"'
rows=$(psql_q "SELECT count(*) FROM spool.schema_migrations WHERE kind = 'migration'")
check "migrations are recorded" test "${rows:-0}" -ge 1

psql_q "UPDATE spool.schema_migrations SET checksum = 'x' || checksum WHERE name = '0001_init.sql'"
before=$(psql_q "SELECT string_agg(name || checksum, ',' ORDER BY name) FROM spool.schema_migrations")
run migrate
check "migrate refuses an edited migration" eval \
    'rc_is 1 && err_has "migration 0001_init.sql has been edited since it was applied (checksum differs)"'
after=$(psql_q "SELECT string_agg(name || checksum, ',' ORDER BY name) FROM spool.schema_migrations")
check "refused migrate changes nothing" test "$before" = "$after"
run migrate --check
check "migrate --check: not ready while edited" eval 'rc_is 1 && out_has "1 migrations edited"'
psql_q "UPDATE spool.schema_migrations SET checksum = substr(checksum, 2) WHERE name = '0001_init.sql'"
run migrate
check "migrate works again once restored" eval 'rc_is 0 && out_has "database is up to date"'

# ---- types --------------------------------------------------------------------------------
run types set "$TYPE" --priority 70 --max-attempts 3 --description "integration test"
check "types set creates a type" eval 'rc_is 0 && out_has "type $TYPE saved" && out_has "priority=70"'
run --json types set "$TYPE" --timeout 60
check "types set keeps unchanged fields" eval \
    'rc_is 0 && jq_true ".priority == 70 and .max_attempts == 3 and .timeout_seconds == 60"'
run types
check "types lists the type" eval 'rc_is 0 && out_has "$TYPE" && out_has "integration test"'
run types --json
check "types --json is an array of objects" eval \
    'rc_is 0 && jq_true "map(select(.name == \"$TYPE\")) | length == 1"'
run types set "$TYPE" --priority 500
check "types set rejects a bad priority client-side" eval 'rc_is 2 && err_has "--priority"'
run types set "$TYPE" --retention "-1 day"
check "types set reports server validation" eval 'rc_is 1 && err_has "error: retention"'

# ---- submit -------------------------------------------------------------------------------
run submit "$TYPE" --payload '{"w":100,"note":"it'"'"'s \"quoted\""}' --tag a --tag b
check "submit prints id and status" eval 'rc_is 0 && out_has "submitted job" && out_has "status=pending"'
id1=$(grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' <<<"$OUT" | head -1)
run --json submit "$TYPE" --payload '{"w":1}' --delay 3600 --queue slow --metadata '{"k":"v"}'
check "submit --json prints the job" eval \
    'rc_is 0 && jq_true ".status == \"scheduled\" and .queue == \"slow\" and .metadata.k == \"v\""'
id2=$(jq -r .id <<<"$OUT")
run submit "$TYPE" --json --depends-on "$id2" --idempotency-key "k-$TYPE"
check "submit with a dependency is blocked" eval 'rc_is 0 && jq_true ".status == \"blocked\""'
id3=$(jq -r .id <<<"$OUT")
run submit "$TYPE" --json --depends-on "$id2" --idempotency-key "k-$TYPE"
check "idempotency key returns the same job" eval 'rc_is 0 && jq_true ".id == \"$id3\""'

# ---- jobs and job -------------------------------------------------------------------------
run jobs --type "$TYPE"
check "jobs lists the jobs" eval 'rc_is 0 && out_has "$id1" && out_has "$id2" && out_has "status"'
run jobs --type "$TYPE" --status scheduled --json
check "jobs --json filters by status" eval 'rc_is 0 && jq_true "length == 1 and .[0].id == \"$id2\""'
run jobs --type "$TYPE" --limit 1 --json
check "jobs --limit, newest first" eval 'rc_is 0 && jq_true "length == 1 and .[0].id == \"$id3\""'
run jobs --status finished
check "jobs rejects an unknown status" eval 'rc_is 2 && err_has "unknown status"'
run job "$id1"
check "job shows fields and events" eval \
    'rc_is 0 && out_has "payload" && out_has "\"note\": \"it'"'"'s \\\"quoted\\\"\"" && out_has "events:"'
run job "$id1" --json
check "job --json has payload, tags and events" eval \
    'rc_is 0 && jq_true ".payload.w == 100 and .tags == [\"a\",\"b\"] and (.events | length) >= 1"'

# ---- cancel and retry ---------------------------------------------------------------------
run cancel "$id1" --reason "not needed"
check "cancel cancels" eval 'rc_is 0 && out_has "status=cancelled"'
run cancel "$id1"
check "cancel twice is refused by the server" eval 'rc_is 1 && err_has "error: "'
run --json retry "$id1"
check "retry runs the job again" eval 'rc_is 0 && jq_true ".status == \"pending\""'

# ---- stats and workers --------------------------------------------------------------------
run stats
check "stats prints three sections" eval \
    'rc_is 0 && out_has "queue depth" && out_has "throughput" && out_has "latency" && out_has "$TYPE"'
run stats --json
check "stats --json" eval \
    'rc_is 0 && jq_true "(.queue_depth|type) == \"array\" and (.throughput|type) == \"array\" and (.latency|type) == \"array\""'
run workers
check "workers prints a table" eval 'rc_is 0 && out_has "health"'
run workers --json
check "workers --json is an array" eval 'rc_is 0 && jq_true "type == \"array\""'

# ---- tokens -------------------------------------------------------------------------------
TOK_NAME="$TYPE-ops"
run tokens create --role admin --name "$TOK_NAME"
check "tokens create prints the token alone on stdout" eval \
    'rc_is 0 && [ "$(wc -l <"$TMP/out")" = 1 ] && grep -qxE "spool_[A-Za-z0-9_-]{43}" <<<"$OUT"'
check "tokens create talks on stderr" err_has "created admin token"
TOKEN=$OUT
hash=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
check "only the token's SHA-256 is stored" test "$(psql_q "SELECT count(*) FROM spool.api_tokens
    WHERE token_hash = '$hash' AND name = '$TOK_NAME' AND role = 'admin' AND tenant IS NULL")" = 1
check "the token itself is not in the database" test "$(psql_q "SELECT count(*) FROM spool.api_tokens t
    WHERE strpos(t::text, '$TOKEN') > 0")" = 0
run tokens create --role admin --name "$TOK_NAME"
check "a second token is different" eval 'rc_is 0 && [ "$OUT" != "$TOKEN" ]'
run tokens create --role client --tenant acme --name "$TOK_NAME-acme"
check "tokens create --tenant" eval 'rc_is 0 && err_has "for tenant acme"'
run --json tokens create --role worker --name "$TOK_NAME-w"
check "tokens create --json still prints the token alone" eval \
    'rc_is 0 && grep -qxE "spool_[A-Za-z0-9_-]{43}" <<<"$OUT"'
run tokens list
check "tokens list prints a table" eval 'rc_is 0 && out_has "$TOK_NAME-acme" && out_has "last_used_at"'
check "tokens list shows neither tokens nor hashes" eval '! out_has "$TOKEN" && ! out_has "$hash" && ! out_has token_hash'
run tokens list --json
check "tokens list --json" eval 'rc_is 0 && jq_true "map(select(.name == \"$TOK_NAME-acme\")) | .[0].role == \"client\" and .[0].tenant == \"acme\" and .[0].revoked_at == null"'
check "tokens list --json has no hashes" eval 'rc_is 0 && jq_true "all(.[]; has(\"token_hash\") | not)"'
run tokens revoke "$TOK_NAME"
check "tokens revoke NAME revokes every live token of that name" eval \
    'rc_is 0 && [ "$(grep -c "^revoked " <<<"$OUT")" = 2 ]'
run tokens list --json
check "revoked tokens are listed as revoked" eval \
    'jq_true "[.[] | select(.name == \"$TOK_NAME\") | .revoked_at != null] == [true, true]"'
run tokens revoke "$TOK_NAME"
check "revoking again fails" eval 'rc_is 1 && err_has "no live token with id or name"'
wid=$(psql_q "SELECT id FROM spool.api_tokens WHERE name = '$TOK_NAME-w'")
run --json tokens revoke "$wid"
check "tokens revoke ID --json" eval 'rc_is 0 && jq_true ".[0].id == \"$wid\""'
run tokens revoke "$TOK_NAME-acme"
check "tokens revoke the tenant token" rc_is 0
run tokens create
check "tokens create needs --role" eval 'rc_is 2 && err_has "needs --role"'
run tokens create --role root
check "tokens create refuses an unknown role" eval 'rc_is 2 && err_has "--role must be admin, client or worker"'
run tokens list --role admin
check "create options are refused elsewhere" eval 'rc_is 2 && err_has "only applies to"'
run tokens revoke
check "tokens revoke needs an argument" eval 'rc_is 2 && err_has "usage: spool tokens revoke"'
run tokens rotate
check "unknown tokens subcommand" eval 'rc_is 2 && err_has "unknown subcommand"'
run tokens create --help
check "tokens create --help" eval 'rc_is 0 && out_has "--role ROLE" && out_has "usage: spool tokens"'

# ---- bad input ----------------------------------------------------------------------------
run submit "$TYPE" --payload '{"w":'
check "malformed payload" eval 'rc_is 2 && err_has "error: --payload is not valid JSON"'
run submit "no_such_type_$TYPE"
check "unknown type" eval 'rc_is 1 && err_has "error: " && err_has "no_such_type_$TYPE"'
run job not-a-uuid
check "bad uuid" eval 'rc_is 2 && err_has "is not a valid UUID"'
run cancel 1234
check "bad uuid for cancel" eval 'rc_is 2 && err_has "is not a valid UUID"'
run job 00000000-0000-0000-0000-000000000000
check "unknown job" eval 'rc_is 1 && err_has "not found"'
run submit "$TYPE" --priority high
check "non-numeric priority" eval 'rc_is 2 && err_has "--priority must be an integer"'
run submit "$TYPE" --priority 500
check "out-of-range priority from the server" eval 'rc_is 1 && err_has "error: "'
run submit "$TYPE" --run-at tomorrowish
check "bad timestamp" eval 'rc_is 1 && err_has "error: "'
run submit
check "missing argument" eval 'rc_is 2 && err_has "missing argument"'
run frobnicate
check "unknown command" eval 'rc_is 2 && err_has "unknown command"'
run jobs --bogus
check "unknown option" eval 'rc_is 2 && err_has "unknown option --bogus"'

# ---- global options and configuration -----------------------------------------------------
env -u SPOOL_DATABASE_URL "$SPOOL" jobs --limit 1 --database-url "$URL" >"$TMP/out" 2>"$TMP/err"
RC=$?; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
check "global option after the command" rc_is 0
env -u SPOOL_DATABASE_URL "$SPOOL" jobs >"$TMP/out" 2>"$TMP/err"
RC=$?; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
check "no database URL is a usage error" eval 'rc_is 2 && err_has "no database URL"'
printf 'database_url = %s\n' "$URL" >"$TMP/spool.conf"
env -u SPOOL_DATABASE_URL "$SPOOL" --config "$TMP/spool.conf" workers >"$TMP/out" 2>"$TMP/err"
RC=$?; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
check "database URL from a config file" rc_is 0
SPOOL_CONNECT_TIMEOUT=forever "$SPOOL" workers >"$TMP/out" 2>"$TMP/err"
RC=$?; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
check "invalid setting stops with a precise message" eval \
    'rc_is 2 && err_has "invalid value for connect_timeout in SPOOL_CONNECT_TIMEOUT"'
run --database-url "postgresql://spool:topsecret@127.0.0.1:1/db" jobs
check "connection failure is clear and hides the password" eval \
    'rc_is 1 && err_has "could not connect to postgresql://spool:***@127.0.0.1:1/db" && ! err_has topsecret'

for cmd in migrate submit jobs job cancel retry types stats workers tokens; do
    run "$cmd" --help
    check "$cmd --help" eval 'rc_is 0 && out_has "usage: spool $cmd"'
done
run --help
check "spool --help" eval 'rc_is 0 && out_has "commands:"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
