/*
 * import_prisma_map: the pure part of `spool import-prisma`: which legacy schema shape a
 * source has, and how one legacy "Job" row (with its "Task" rows) becomes one Spool job
 * (with its spool.job_tasks rows), written as lines of COPY text format for the staging
 * tables of spool.import_prepare(). No I/O and no database: every function here is a
 * function of its arguments, so the unit tests pin the mapping down exactly.
 *
 * Inputs are the text forms PostgreSQL prints (the source session runs with TimeZone UTC
 * and DateStyle ISO); NULL pointers are SQL NULLs. The mapping is documented, field by
 * field, in docs/import-prisma.md. Prefix: cli_pmap_.
 */
#ifndef IMPORT_PRISMA_MAP_H
#define IMPORT_PRISMA_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_buf.h"
#include "sp_err.h"

/* Bump when the mapping changes: every row's checksum changes, so the next run rewrites
 * every job with the new mapping. */
#define CLI_PMAP_VERSION "1"

/* The error a RUNNING row gets with --running fail. */
#define CLI_PMAP_INTERRUPTED "interrupted by migration"

/* Which legacy schema the source has; see cli_pmap_detect. */
typedef struct {
    const char *name;  /* static, e.g. "2025-06-22 retries (costInCents)" */
    bool has_tasks;    /* a "Task" table */
    bool has_retries;  /* "Job"."originalJobId" and "agentEvalBatchId" */
    bool job_cents;    /* "Job"."costInCents" */
    bool job_dollars;  /* "Job"."priceInDollars" */
    bool task_dollars; /* "Task"."priceInDollars" (else "priceInCents") */
    bool task_llm;     /* "Task"."llmInteractions" */
    bool has_cancel;   /* "cancelledAt", "cancelledById", "cancellationReason" */
    bool has_pgboss;   /* "pgBossJobId" and "telemetryProgress" */
} cli_pmap_shape;

/*
 * Recognises the shape from the columns of "Job", "Task" (ntask 0: no such table) and
 * "Evaluation" (neval 0: no such table), and the labels of the status values (the enum's
 * labels). Returns 0 and fills *out, or SP_E_NOTFOUND with a message in err naming the
 * nearest known shape and the columns that differ (or the missing table, or the unknown
 * status label).
 */
SP_MUSTCHECK int cli_pmap_detect(const char *const *job_cols, size_t njob,
                                 const char *const *task_cols, size_t ntask,
                                 const char *const *eval_cols, size_t neval,
                                 const char *const *statuses, size_t nstatus, cli_pmap_shape *out,
                                 char *err, size_t errlen);

/* What to do with RUNNING rows: the legacy system has no lease, so nothing can take over a
 * running attempt. */
typedef enum {
    CLI_PMAP_RUNNING_REQUEUE, /* pending again, the interrupted attempt counted */
    CLI_PMAP_RUNNING_FAIL,    /* dead, error "interrupted by migration" */
} cli_pmap_running;

/* Parses "requeue" or "fail". */
SP_MUSTCHECK int cli_pmap_parse_running(const char *text, cli_pmap_running *out);

/*
 * The Spool status of a legacy status: PENDING -> pending; RUNNING -> pending or dead (per
 * mode); COMPLETED -> completed; FAILED -> failed when a later row of its retry chain exists
 * (has_successor), else dead; CANCELLED -> cancelled. *live is true for the statuses kept in
 * job_live (pending), false for job_archive. SP_E_INVAL for an unknown legacy status.
 */
SP_MUSTCHECK int cli_pmap_status(const char *legacy, bool has_successor, cli_pmap_running mode,
                                 const char **status, bool *live);

/* An integer number of cents as exact dollars, e.g. "12345" -> "123.45", "-5" -> "-0.05",
 * "100" -> "1". SP_E_INVAL when cents is not an optional sign and digits; SP_E_RANGE when
 * out is too small. */
SP_MUSTCHECK int cli_pmap_cents_to_dollars(const char *cents, char *out, size_t outlen);

/* A decimal in its shortest exact form: "1.230000" -> "1.23", "0.000000" -> "0",
 * "-000.50" -> "-0.5", "7" -> "7". SP_E_INVAL when text is not a plain decimal. */
SP_MUSTCHECK int cli_pmap_decimal(const char *text, char *out, size_t outlen);

/* A timestamp printed by PostgreSQL, made explicit UTC: "2025-07-13 10:00:00.5" ->
 * "2025-07-13 10:00:00.5+00" (Prisma's DateTime is timestamp(3) without time zone, holding
 * UTC); a value that already has an offset, and infinity, are kept. */
SP_MUSTCHECK int cli_pmap_timestamp(const char *text, char *out, size_t outlen);

/* The Spool id of a legacy id (kind "Job" or "Task"), as spool.import_uuid computes it: a
 * UUID is kept (lowercased), anything else becomes a name-based UUIDv8 from SHA-256.
 * SP_E_RANGE for an id over 400 bytes (Prisma's are 36). */
SP_MUSTCHECK int cli_pmap_uuid(const char *legacy_id, const char *kind, char out[37]);

/* Appends text as a JSON string literal (quotes included). */
SP_MUSTCHECK int cli_pmap_json_string(sp_buf *buf, const char *text);
/* Appends text as one field of COPY text format: \N for NULL, else with backslash, tab,
 * newline and carriage return escaped. */
SP_MUSTCHECK int cli_pmap_copy_field(sp_buf *buf, const char *text);

/* One legacy "Job" row (joined with its "Evaluation") as the source query returns it. */
typedef struct {
    const char *id, *status, *attempts, *error;
    const char *started_at, *completed_at, *created_at, *updated_at;
    const char *llm_thinking, *cost_in_cents, *price_in_dollars, *duration_seconds, *logs;
    const char *evaluation_id, *evaluation_version_id, *agent_eval_batch_id;
    const char *original_job_id; /* as stored */
    const char *root_id;         /* the chain's root, resolved by the source query */
    bool has_successor;          /* a later row of the same retry chain exists */
    const char *document_id, *agent_id;
    const char *pgboss_job_id, *cancelled_at, *cancelled_by_id, *cancellation_reason;
    const char *telemetry_progress; /* JSON text */
} cli_pmap_job;

/* One legacy "Task" row. */
typedef struct {
    const char *id, *job_id, *name, *model_name;
    const char *price_in_cents, *price_in_dollars, *time_seconds, *log;
    const char *created_at, *updated_at;
    const char *llm_interactions; /* JSON text */
} cli_pmap_task;

/* Run options that change what a row maps to (part of every checksum). */
typedef struct {
    const char *type;
    cli_pmap_running running;
} cli_pmap_options;

/* What a mapping produced: what the caller counts, classifies and writes it by. */
typedef struct {
    const char *status;        /* static: the Spool status */
    const char *legacy_status; /* static: the legacy status, e.g. "FAILED" */
    bool live;
    bool has_cost;
    char cost[64];     /* exact dollars when has_cost */
    char id[37];       /* the Spool id */
    bool id_kept;      /* the Spool id is the legacy id (a UUID): it follows the legacy order */
    char checksum[33]; /* of everything the import writes for the job */
    long long attempts;
    int64_t run_at; /* an ordering key of run_at (microseconds; INT64_MIN: unknown) */
    /* The job's line (line_len bytes, newline included) starts with body_len bytes of the
     * columns spool.job_live/job_archive take (CLI_PMAP_JOB_COLUMNS), then a tab; bytes
     * body_len + 1 up to rows_len are those of CLI_PMAP_ROW_COLUMNS. */
    size_t body_len, rows_len, line_len;
    size_t ntasks, tasks_len; /* its task lines: ntasks lines, tasks_len bytes */
} cli_pmap_outcome;

/* The columns of a job's line, in order: the body (the columns of spool.job_live and
 * spool.job_archive the mapping sets), then the legacy id, the legacy status, the checksum
 * and the live flag (pg_temp.import_jobs has all of them, in this order). */
#define CLI_PMAP_JOB_COLUMNS                                                                       \
    "id, status, run_at, payload, result, error, errors, attempts, metadata, original_job_id, "    \
    "progress, cancel_requested_at, cancel_reason, cost, created_at, started_at, finished_at"
/* The columns of spool.import_rows a job's line begins (after the body): legacy id, legacy
 * status, checksum. */
#define CLI_PMAP_ROW_COLUMNS "legacy_id, legacy_status, checksum"
/* A task line's columns: spool.job_tasks's and pg_temp.import_tasks's, in order. */
#define CLI_PMAP_TASK_COLUMNS                                                                      \
    "id, job_id, legacy_id, name, model, price, time_seconds, log, llm_interactions, "             \
    "created_at, updated_at"

/*
 * Appends the COPY lines of one job and its tasks: the job's line to jobs (the columns of
 * CLI_PMAP_JOB_COLUMNS, then legacy id, legacy status, checksum, live), one line per task to
 * tasks (CLI_PMAP_TASK_COLUMNS).
 * The checksum is over the mapping version, the options and every other field of the job
 * and its tasks, so it changes exactly when the import would write something different.
 * scratch is working space. SP_E_INVAL (err says which field) for a value the mapping
 * cannot take (an unknown status, a cost that is not a number); SP_E_RANGE when a buffer
 * would pass its maximum.
 */
SP_MUSTCHECK int cli_pmap_job_lines(const cli_pmap_job *job, const cli_pmap_task *tasks,
                                    size_t ntasks, const cli_pmap_options *opts, sp_buf *jobs,
                                    sp_buf *task_lines, sp_buf *scratch, cli_pmap_outcome *outcome,
                                    char *err, size_t errlen);

#endif
