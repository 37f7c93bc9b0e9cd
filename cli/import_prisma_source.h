/*
 * import_prisma_source: the legacy side of `spool import-prisma`: connects to the Prisma
 * database (read-only session, TimeZone UTC), recognises its schema shape, checks the
 * legacy schema's own rules before anything is written, and reads it in batches (jobs in
 * "Job".id order with the tasks of exactly those jobs), so memory stays bounded by the
 * batch size whatever the table's size. Also the source-side totals of the report.
 *
 * Everything is read in one snapshot (the rule checks, the totals and two cursors), so jobs
 * and tasks agree: three sessions, each in a REPEATABLE READ, READ ONLY transaction, the
 * first exporting its snapshot (pg_export_snapshot) and the others importing it. The jobs
 * cursor, the tasks cursor and the checks and totals each have their own session, so
 * that the server sorts both cursors side by side while the checks run; the cursors are
 * read in chunks, each asked for before the previous one is used, so memory stays flat
 * and the source reads while the caller maps.
 *
 * Threads: once cli_psrc_start has run, cli_psrc_next (the cursors' sessions) may run on one
 * thread while cli_psrc_preflight, cli_psrc_count, cli_psrc_oldest and the totals (the
 * checks' session) run on another; each of the two groups is used by one thread at a time.
 *
 * Queries are assembled once, at open, from fragments fixed in this file (identifiers
 * only: which columns the shape has); every value is a parameter. Prefix: cli_psrc_.
 */
#ifndef IMPORT_PRISMA_SOURCE_H
#define IMPORT_PRISMA_SOURCE_H

#include <stdint.h>

#include "import_prisma_map.h"
#include "sp_db.h"
#include "sp_err.h"

typedef struct cli_psrc cli_psrc;

/* Column numbers of a job batch (cli_psrc_fetch's jobs result). */
enum {
    CLI_PSRC_J_ID,
    CLI_PSRC_J_STATUS,
    CLI_PSRC_J_ATTEMPTS,
    CLI_PSRC_J_ERROR,
    CLI_PSRC_J_STARTED,
    CLI_PSRC_J_COMPLETED,
    CLI_PSRC_J_CREATED,
    CLI_PSRC_J_UPDATED,
    CLI_PSRC_J_THINKING,
    CLI_PSRC_J_CENTS,
    CLI_PSRC_J_DOLLARS,
    CLI_PSRC_J_DURATION,
    CLI_PSRC_J_LOGS,
    CLI_PSRC_J_EVAL,
    CLI_PSRC_J_EVAL_VERSION,
    CLI_PSRC_J_BATCH,
    CLI_PSRC_J_ORIGINAL,
    CLI_PSRC_J_ROOT,
    CLI_PSRC_J_SUCCESSOR,
    CLI_PSRC_J_DOCUMENT,
    CLI_PSRC_J_AGENT,
    CLI_PSRC_J_PGBOSS,
    CLI_PSRC_J_CANCELLED_AT,
    CLI_PSRC_J_CANCELLED_BY,
    CLI_PSRC_J_CANCEL_REASON,
    CLI_PSRC_J_TELEMETRY,
};
/* Column numbers of a task batch. */
enum {
    CLI_PSRC_T_ID,
    CLI_PSRC_T_JOB,
    CLI_PSRC_T_NAME,
    CLI_PSRC_T_MODEL,
    CLI_PSRC_T_CENTS,
    CLI_PSRC_T_DOLLARS,
    CLI_PSRC_T_TIME,
    CLI_PSRC_T_LOG,
    CLI_PSRC_T_CREATED,
    CLI_PSRC_T_UPDATED,
    CLI_PSRC_T_LLM,
};

/*
 * Connects to url (schema: where the Prisma tables live, e.g. "public") and recognises the
 * shape. On failure err says why: could not connect (the URL redacted), or the schema is
 * not one it knows (SP_E_NOTFOUND).
 */
SP_MUSTCHECK int cli_psrc_open(cli_psrc **out, const char *url, const char *schema,
                               int connect_timeout_s, char *err, size_t errlen);
void cli_psrc_free(cli_psrc *src);

const cli_pmap_shape *cli_psrc_shape(const cli_psrc *src);
/* The connection (borrowed), for identity queries. */
sp_db *cli_psrc_db(cli_psrc *src);

/* Checks the legacy rules the mapping relies on: every originalJobId names an existing row
 * that is a root (or a retry of one), every job's evaluation exists, every task's job
 * exists. SP_E_INVAL with a message naming the rule, the count and examples. */
SP_MUSTCHECK int cli_psrc_preflight(cli_psrc *src, char *err, size_t errlen);

/* Jobs after the legacy id after (NULL: from the start) in scope of since (NULL: all). */
SP_MUSTCHECK int cli_psrc_count(cli_psrc *src, const char *after, const char *since, int64_t *out,
                                char *err, size_t errlen);

/* The oldest "Job"."createdAt" (as timestamptz text; "" when there is no job). */
SP_MUSTCHECK int cli_psrc_oldest(cli_psrc *src, char *out, size_t outlen, char *err, size_t errlen);

/* Opens the two cursors of a run, each on its own session: jobs after the legacy id after
 * (NULL: from the start), in scope of since (NULL: all), in "C" order of id, and their
 * tasks in the same order; and asks each for its first rows (limit jobs), so that both
 * sorts run on the server, side by side, while the caller goes on (with the checks, say). */
SP_MUSTCHECK int cli_psrc_start(cli_psrc *src, const char *after, const char *since, int limit,
                                char *err, size_t errlen);

/* One batch: its jobs (owned result; NULL at the end) and, for job i, its tasks tasks[first[i] ..
 * first[i] + count[i]) (borrowed from the source until the next cli_psrc_next). */
typedef struct {
    sp_db_res *jobs;
    cli_pmap_task *tasks;
    size_t ntasks;
    size_t *first;
    int *count;
} cli_psrc_batch;

/* Reads the next batch of up to cli_psrc_start's limit jobs (none at the end), and asks
 * for the one after it, which the source reads while the caller maps this one. */
SP_MUSTCHECK int cli_psrc_next(cli_psrc *src, cli_psrc_batch *b, char *err, size_t errlen);
void cli_psrc_batch_clear(cli_psrc_batch *b);

/* Source totals for the report: rows (legacy status, count, cost in dollars) as
 * *by_status (owned), now; and one row (tasks, task price total, chains, longest chain,
 * oldest createdAt), which the source computes while the import runs and
 * cli_psrc_totals_other returns (owned; call it once, after cli_psrc_totals). */
SP_MUSTCHECK int cli_psrc_totals(cli_psrc *src, sp_db_res **by_status, char *err, size_t errlen);
SP_MUSTCHECK int cli_psrc_totals_other(cli_psrc *src, sp_db_res **other, char *err, size_t errlen);

#endif
