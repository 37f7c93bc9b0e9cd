#!/usr/bin/env bash
# The test command: installs what is missing (Debian 12), builds the release tree (build/,
# RelWithDebInfo) and the sanitizer tree (build-asan/, ASan + UBSan), starts a private
# PostgreSQL on a free loopback port and runs the whole ctest suite in both trees: unit
# tests, the CLI integration test, pgTAP (tests/sql) and the concurrency test.
#
#   scripts/test.sh [CTEST ARGS...]     e.g. scripts/test.sh -R unit_
#
# Environment: SPOOL_CONC_JOBS (jobs of the concurrency test, default 400000),
# SPOOL_TEST_TREES ("asan release" by default; name one to run only that tree).
# Exits non-zero when anything fails. PostgreSQL is stopped on exit in every case.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SPOOL_ROOT"

start=$SECONDS
PGDIR=
CTEST_PID=
summary=()
status=0

cleanup() {
    if [ -n "$CTEST_PID" ]; then
        kill -TERM "$CTEST_PID" 2>/dev/null || true
        wait "$CTEST_PID" 2>/dev/null || true
        status=1
    fi
    if [ -n "$PGDIR" ]; then
        spool_pg_stop "$PGDIR"
        if [ "$status" = 0 ]; then rm -rf "$PGDIR"; else
            echo "(PostgreSQL log kept in $PGDIR/postgres.log)" >&2
        fi
    fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# record NAME RC SECONDS
record() {
    local verdict=PASS
    [ "$2" = 0 ] || { verdict=FAIL; status=1; }
    summary+=("$(printf '%-40s %s  %5ss' "$1" "$verdict" "$3")")
}

print_summary() {
    echo
    echo "==================== spool test summary ===================="
    printf '%s\n' "${summary[@]}"
    echo "total: $((SECONDS - start))s"
    if [ "$status" = 0 ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
}

trees=${SPOOL_TEST_TREES:-asan release}

# ---- packages and builds ---------------------------------------------------------------------
t=$SECONDS
spool_install_packages
record "packages" 0 $((SECONDS - t))

for tree in $trees; do
    t=$SECONDS
    case $tree in
    asan) spool_log "building build-asan (ASan + UBSan)"
          rc=0; spool_build build-asan -DCMAKE_BUILD_TYPE=Debug -DSPOOL_SANITIZE=ON || rc=$? ;;
    release) spool_log "building build (RelWithDebInfo)"
          rc=0; spool_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || rc=$? ;;
    *) spool_die "unknown tree \"$tree\" in SPOOL_TEST_TREES (asan, release)" ;;
    esac
    record "build $tree" "$rc" $((SECONDS - t))
    if [ "$rc" != 0 ]; then print_summary; exit 1; fi
done

# ---- PostgreSQL --------------------------------------------------------------------------------
t=$SECONDS
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/spool-test-pg.XXXXXX")
chmod 755 "$PGDIR"
spool_log "starting PostgreSQL in $PGDIR"
if ! PORT=$(spool_pg_start "$PGDIR"); then
    record "postgresql start" 1 $((SECONDS - t))
    print_summary
    exit 1
fi
record "postgresql start (port $PORT)" 0 $((SECONDS - t))
ADMIN_URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

# ---- the suites --------------------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset SPOOL_DATABASE_URL SPOOL_CONFIG SPOOL_LOG_LEVEL SPOOL_CONNECT_TIMEOUT

for tree in $trees; do
    dir=build
    [ "$tree" = asan ] && dir=build-asan
    db="spool_test_$tree"
    url="postgresql://postgres@127.0.0.1:$PORT/$db"
    t=$SECONDS
    rc=0
    PGOPTIONS="-c client_min_messages=warning" spool_psql "$ADMIN_URL" -qAt -c "drop database if exists $db" -c "create database $db" || rc=$?
    [ "$rc" = 0 ] && { "$dir/spool" --database-url "$url" migrate >/dev/null || rc=$?; }
    [ "$rc" = 0 ] && { spool_psql "$url" -qAt -c 'create extension if not exists pgtap' || rc=$?; }
    record "database $db + migrate" "$rc" $((SECONDS - t))
    [ "$rc" = 0 ] || continue

    spool_log "ctest in $dir against $url"
    t=$SECONDS
    rc=0
    # ctest runs in the background so that an interrupt reaches the traps at once.
    SPOOL_TEST_DATABASE_URL=$url ctest --test-dir "$dir" --output-on-failure "$@" \
        > >(tee "$PGDIR/ctest-$tree.log") 2>&1 &
    CTEST_PID=$!
    wait "$CTEST_PID" || rc=$?
    CTEST_PID=
    # With a database every test must really run: a skip would hide a broken setup.
    if [ "$rc" = 0 ] && grep -q 'tests did not run' "$PGDIR/ctest-$tree.log"; then
        spool_log "some tests were skipped in $dir"
        rc=1
    fi
    record "ctest $dir" "$rc" $((SECONDS - t))
    # The concurrency test's figures (informational, never asserted).
    while IFS= read -r line; do
        summary+=("    $tree concurrency: ${line#\# }")
    done < <(grep -E '^# (submitted|claimed and completed) ' \
                 "$dir/Testing/Temporary/LastTest.log" 2>/dev/null || true)
done

print_summary
exit "$status"
