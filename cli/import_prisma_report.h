/*
 * import_prisma_report: the counters of an import-prisma run and its final report: what
 * this run did (scanned, inserted, updated, unchanged, conflicts, tasks; legacy status ->
 * Spool status), the source's totals (jobs per legacy status, tasks, retry chains, cost in
 * dollars) next to the target's (imported jobs per Spool status, tasks, chains, cost), and
 * for --verify the differences found plus imported jobs the source no longer has. Human
 * text or, with --json, one JSON object on stdout. Prefix: cli_pimp_.
 */
#ifndef IMPORT_PRISMA_REPORT_H
#define IMPORT_PRISMA_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "sp_db.h"

#define CLI_PIMP_PAIRS 32

typedef struct {
    int64_t scanned, inserted, updated, unchanged, conflicts;
    int64_t tasks_scanned, tasks_written, mismatches;
    bool resumed;
    int64_t resumed_rows;
    double seconds;
    struct {
        char legacy[16], spool[16];
        int64_t jobs;
    } pairs[CLI_PIMP_PAIRS];
    int npairs;
} cli_pimp_counts;

/* Counts one mapped job (legacy and Spool statuses, its number of tasks). */
void cli_pimp_count_job(cli_pimp_counts *c, const char *legacy, const char *spool, int ntasks);

typedef struct {
    const char *shape, *type;
    bool same_db, dry_run, verify, since;
    const sp_db_res *src_status; /* legacy_status, jobs, cost */
    const sp_db_res *src_other;  /* tasks, task_price, chains, longest_chain, oldest */
    sp_db *dst;                  /* the target session (its pg_temp.import_seen for verify) */
} cli_pimp_report_in;

/* Prints the report; returns the command's exit code: 1 when --verify found a difference
 * (or the totals of a full verify differ), or a target query failed; else 0. */
int cli_pimp_report(bool json, cli_pimp_counts *c, const cli_pimp_report_in *in);

#endif
