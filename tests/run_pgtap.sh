#!/usr/bin/env bash
# Runs one pgTAP file of tests/sql with pg_prove against a migrated spool database.
#   SPOOL_TEST_DATABASE_URL=postgresql://... tests/run_pgtap.sh tests/sql/claim.sql
# Skips (exit 77) when SPOOL_TEST_DATABASE_URL is unset. Creates the pgtap extension when the
# database lacks it (scripts/test.sh's cluster runs as superuser, so it may).
set -euo pipefail

file=${1:?usage: run_pgtap.sh FILE.sql}
if [ -z "${SPOOL_TEST_DATABASE_URL:-}" ]; then
    echo "SPOOL_TEST_DATABASE_URL is not set: skipping"
    exit 77
fi
if ! command -v pg_prove >/dev/null; then
    echo "pg_prove is not installed (apt-get install libtap-parser-sourcehandler-pgtap-perl)" >&2
    exit 1
fi
psql "$SPOOL_TEST_DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 \
    -c 'create extension if not exists pgtap' >/dev/null
exec pg_prove --verbose --failures -d "$SPOOL_TEST_DATABASE_URL" "$file"
