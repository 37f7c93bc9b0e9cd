/*
 * sp_migrate: the migration runner; see sp_migrate.h.
 *
 * Everything runs in the caller's connection inside BEGIN ... COMMIT; any failure rolls
 * back, so a refused or failed run leaves the database as it was.
 */
#include "sp_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_SQL "SELECT pg_advisory_xact_lock(1397772111, 0)"

static const char sql_create_schema[] = "CREATE SCHEMA IF NOT EXISTS spool";

static const char sql_create_table[] =
    "CREATE TABLE IF NOT EXISTS spool.schema_migrations ("
    " name text PRIMARY KEY,"
    " kind text NOT NULL CHECK (kind IN ('migration', 'function')),"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* The file's checksum and what is recorded for it, in one round trip. */
static const char sql_checksum[] =
    "SELECT encode(sha256(convert_to($2, 'UTF8')), 'hex') AS checksum,"
    " (SELECT checksum FROM spool.schema_migrations WHERE name = $1) AS recorded";

/* Same, for status checks where the table may not exist yet. */
static const char sql_checksum_only[] =
    "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS checksum";

static const char sql_record[] =
    "INSERT INTO spool.schema_migrations (name, kind, checksum) VALUES ($1, $2, $3)"
    " ON CONFLICT (name) DO UPDATE"
    " SET kind = excluded.kind, checksum = excluded.checksum, applied_at = now()";

void sp_migrate_report_clear(sp_migrate_report *report)
{
    free(report->applied);
    report->applied = NULL;
    report->napplied = 0;
}

static void db_error(sp_db *db, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, sp_db_err_message(db));
}

/* Looks up a file's checksum (*sum, 65 bytes) and recorded checksum (*recorded, "" when not
 * recorded). */
static int file_checksums(sp_db *db, const sp_sql_file *file, char *sum, char *recorded, char *err,
                          size_t errlen)
{
    sp_db_res *res = NULL;
    const char *params[] = {file->name, file->text};
    int rc = sp_db_exec_params(db, sql_checksum, 2, params, &res);
    if (rc < 0) {
        char what[300];
        snprintf(what, sizeof(what), "could not compute the checksum of %s", file->name);
        db_error(db, what, err, errlen);
        return rc;
    }
    const char *s = sp_db_res_value(res, 0, 0);
    const char *r = sp_db_res_value(res, 0, 1);
    snprintf(sum, 65, "%s", s != NULL ? s : "");
    snprintf(recorded, 65, "%s", r != NULL ? r : "");
    sp_db_res_free(res);
    return 0;
}

static int apply_file(sp_db *db, const sp_sql_file *file, const char *kind, const char *sum,
                      sp_migrate_report *report, char *err, size_t errlen)
{
    char what[300];
    snprintf(what, sizeof(what), "could not apply %s", file->name);
    int rc = sp_db_exec_script(db, file->text);
    if (rc < 0) {
        db_error(db, what, err, errlen);
        return rc;
    }
    const char *params[] = {file->name, kind, sum};
    rc = sp_db_exec_params(db, sql_record, 3, params, NULL);
    if (rc < 0) {
        db_error(db, what, err, errlen);
        return rc;
    }
    report->applied[report->napplied].name = file->name;
    report->applied[report->napplied].kind = kind;
    report->napplied++;
    return 0;
}

static int exec_simple(sp_db *db, const char *sql, const char *what, char *err, size_t errlen)
{
    int rc = sp_db_exec_params(db, sql, 0, NULL, NULL);
    if (rc < 0)
        db_error(db, what, err, errlen);
    return rc;
}

int sp_migrate_run_files(sp_db *db, const sp_sql_file *migrations, size_t nmigrations,
                         const sp_sql_file *functions, size_t nfunctions, sp_migrate_report *report,
                         char *err, size_t errlen)
{
    int rc;
    bool in_tx = false;
    char sum[65], recorded[65];

    report->napplied = 0;
    report->applied = calloc(nmigrations + nfunctions + 1, sizeof(*report->applied));
    if (report->applied == NULL) {
        snprintf(err, errlen, "out of memory");
        return SP_E_NOMEM;
    }

    rc = exec_simple(db, "BEGIN", "could not start the migration transaction", err, errlen);
    if (rc < 0)
        goto out;
    in_tx = true;
    rc = exec_simple(db, LOCK_SQL, "could not take the migration lock", err, errlen);
    if (rc < 0)
        goto out;
    rc = exec_simple(db, sql_create_schema, "could not create schema spool", err, errlen);
    if (rc < 0)
        goto out;
    rc = exec_simple(db, sql_create_table, "could not create spool.schema_migrations", err, errlen);
    if (rc < 0)
        goto out;

    for (size_t i = 0; i < nmigrations; i++) {
        const sp_sql_file *file = &migrations[i];
        rc = file_checksums(db, file, sum, recorded, err, errlen);
        if (rc < 0)
            goto out;
        if (recorded[0] != '\0') {
            if (strcmp(sum, recorded) == 0)
                continue;
            snprintf(err, errlen,
                     "migration %s has been edited since it was applied (checksum differs)",
                     file->name);
            rc = SP_E_CONFLICT;
            goto out;
        }
        rc = apply_file(db, file, "migration", sum, report, err, errlen);
        if (rc < 0)
            goto out;
    }

    /* Function bodies may call functions from files later in the order. */
    rc = exec_simple(db, "SET LOCAL check_function_bodies = off",
                     "could not set check_function_bodies", err, errlen);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < nfunctions; i++) {
        const sp_sql_file *file = &functions[i];
        rc = file_checksums(db, file, sum, recorded, err, errlen);
        if (rc < 0)
            goto out;
        if (strcmp(sum, recorded) == 0)
            continue;
        rc = apply_file(db, file, "function", sum, report, err, errlen);
        if (rc < 0)
            goto out;
    }

    rc = exec_simple(db, "COMMIT", "could not commit the migration", err, errlen);
    in_tx = false;
out:
    if (in_tx)
        sp_db_rollback(db);
    if (rc < 0)
        sp_migrate_report_clear(report);
    return rc;
}

int sp_migrate_run(sp_db *db, sp_migrate_report *report, char *err, size_t errlen)
{
    return sp_migrate_run_files(db, sp_sql_migrations, sp_sql_migrations_count, sp_sql_functions,
                                sp_sql_functions_count, report, err, errlen);
}

int sp_migrate_status(sp_db *db, sp_migrate_state *state, char *err, size_t errlen)
{
    int rc = 0;
    sp_db_res *recorded = NULL;
    sp_db_res *sum = NULL;

    memset(state, 0, sizeof(*state));
    state->total = sp_sql_migrations_count + sp_sql_functions_count;

    rc = sp_db_exec_params(db, "SELECT name, checksum FROM spool.schema_migrations", 0, NULL,
                           &recorded);
    if (rc < 0 && strcmp(sp_db_err_sqlstate(db), "42P01") == 0) {
        /* undefined_table: nothing has been applied yet. */
        state->pending = state->total;
        return 0;
    }
    if (rc < 0) {
        db_error(db, "could not read spool.schema_migrations", err, errlen);
        goto out;
    }

    for (int pass = 0; pass < 2; pass++) {
        const sp_sql_file *files = pass == 0 ? sp_sql_migrations : sp_sql_functions;
        size_t n = pass == 0 ? sp_sql_migrations_count : sp_sql_functions_count;
        for (size_t i = 0; i < n; i++) {
            const char *params[] = {files[i].text};
            rc = sp_db_exec_params(db, sql_checksum_only, 1, params, &sum);
            if (rc < 0) {
                db_error(db, "could not compute a checksum", err, errlen);
                goto out;
            }
            const char *have = NULL;
            for (int r = 0; r < sp_db_res_nrows(recorded); r++)
                if (strcmp(sp_db_res_value(recorded, r, 0), files[i].name) == 0)
                    have = sp_db_res_value(recorded, r, 1);
            const char *want = sp_db_res_value(sum, 0, 0);
            if (have == NULL)
                state->pending++;
            else if (want == NULL || strcmp(have, want) != 0)
                pass == 0 ? state->edited++ : state->pending++;
            sp_db_res_free(sum);
            sum = NULL;
        }
    }
    state->ready = state->pending == 0 && state->edited == 0;
out:
    sp_db_res_free(sum);
    sp_db_res_free(recorded);
    return rc;
}
