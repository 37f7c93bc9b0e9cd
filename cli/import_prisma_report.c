/* import_prisma_report: counters and the final report of import-prisma; see the header. */
#include "import_prisma_report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"

void cli_pimp_count_job(cli_pimp_counts *c, const char *legacy, const char *spool, int ntasks)
{
    c->tasks_scanned += ntasks;
    for (int i = 0; i < c->npairs; i++)
        if (strcmp(c->pairs[i].legacy, legacy) == 0 && strcmp(c->pairs[i].spool, spool) == 0) {
            c->pairs[i].jobs++;
            return;
        }
    if (c->npairs == CLI_PIMP_PAIRS)
        return; /* statuses are a closed set far smaller than this */
    snprintf(c->pairs[c->npairs].legacy, sizeof(c->pairs[0].legacy), "%s", legacy);
    snprintf(c->pairs[c->npairs].spool, sizeof(c->pairs[0].spool), "%s", spool);
    c->pairs[c->npairs++].jobs = 1;
}

static const char dst_status_sql[] =
    "SELECT j.status, count(*) AS jobs, coalesce(trim_scale(sum(j.cost)), 0) AS cost"
    " FROM spool.import_rows r JOIN spool.jobs j ON j.id = r.job_id GROUP BY 1 ORDER BY 1";

/* One scan of job_tasks (count and price together); chains from the imported retries only
 * (grouped by root: most jobs are roots); the cost is the sum of the per-status costs ($1,
 * summed by the server so that no float is involved). */
static const char dst_other_sql[] =
    "SELECT t.tasks, t.task_price, c.chains, c.longest_chain,"
    " (SELECT count(*) FROM spool.import_rows) AS imported,"
    " (SELECT coalesce(trim_scale(sum(x)), 0) FROM unnest($1::numeric[]) x) AS cost"
    " FROM (SELECT count(*) AS tasks, coalesce(trim_scale(sum(price)), 0) AS task_price"
    "        FROM spool.job_tasks) t,"
    " (SELECT count(*) AS chains, coalesce(max(x.n), 0) + 1 AS longest_chain"
    "    FROM (SELECT j.original_job_id, count(*) AS n"
    "            FROM spool.import_rows r JOIN spool.jobs j ON j.id = r.job_id"
    "           WHERE j.original_job_id IS NOT NULL GROUP BY 1) x) c";

/* The per-status costs of by_status (column 2) as a numeric[] literal, into arr. */
static void cost_array(const sp_db_res *by_status, char *arr, size_t len)
{
    size_t used = (size_t)snprintf(arr, len, "{");
    for (int i = 0; i < sp_db_res_nrows(by_status) && used + 64 < len; i++)
        used += (size_t)snprintf(arr + used, len - used, "%s%s", i ? "," : "",
                                 sp_db_res_value(by_status, i, 2));
    snprintf(arr + used, len - used, "}");
}

/* Reads the target's totals with memory enough for the joins and groupings to stay off
 * the disk. */
static int dst_totals(sp_db *db, sp_db_res **status, sp_db_res **other)
{
    char arr[8192];
    int rc = sp_db_exec_params(db, "BEGIN", 0, NULL, NULL);
    if (rc == 0)
        rc = sp_db_exec_params(db, "SET LOCAL work_mem = '64MB'", 0, NULL, NULL);
    if (rc == 0)
        rc = sp_db_exec_params(db, dst_status_sql, 0, NULL, status);
    if (rc == 0) {
        cost_array(*status, arr, sizeof(arr));
        const char *params[] = {arr};
        rc = sp_db_exec_params(db, dst_other_sql, 1, params, other);
    }
    if (rc == 0)
        rc = sp_db_exec_params(db, "COMMIT", 0, NULL, NULL);
    if (rc < 0)
        sp_db_rollback(db);
    return rc;
}

static const char extra_sql[] =
    "SELECT r.legacy_id, count(*) OVER () FROM spool.import_rows r"
    " WHERE NOT EXISTS (SELECT 1 FROM pg_temp.import_seen s WHERE s.legacy_id = r.legacy_id)"
    " ORDER BY 1 LIMIT 20";

/* The source's total cost: the sum of its per-status rows, as exact decimal text. */
static int src_cost_total(sp_db *db, const sp_db_res *by_status, char *out, size_t outlen)
{
    /* Summed by the server so that no float is involved. */
    sp_db_res *res = NULL;
    char arr[8192];
    cost_array(by_status, arr, sizeof(arr));
    const char *params[] = {arr};
    if (sp_db_exec_params(db, "SELECT coalesce(trim_scale(sum(x)), 0) FROM unnest($1::numeric[]) x",
                          1, params, &res) < 0)
        return SP_E_DB;
    snprintf(out, outlen, "%s", sp_db_res_value(res, 0, 0));
    sp_db_res_free(res);
    return 0;
}

static int64_t num(const sp_db_res *res, int row, const char *col)
{
    const char *s = sp_db_res_get(res, row, col);
    return s ? strtoll(s, NULL, 10) : 0;
}

int cli_pimp_report(bool json, cli_pimp_counts *c, const cli_pimp_report_in *in)
{
    sp_db_res *ds = NULL, *dother = NULL, *extra = NULL;
    char src_cost[128];
    int64_t src_jobs = 0, extra_n = 0;
    int rc = CLI_EXIT_FAIL;
    for (int i = 0; i < sp_db_res_nrows(in->src_status); i++)
        src_jobs += num(in->src_status, i, "jobs");
    if (src_cost_total(in->dst, in->src_status, src_cost, sizeof(src_cost)) < 0 ||
        dst_totals(in->dst, &ds, &dother) < 0 ||
        (in->verify && !in->since && sp_db_exec_params(in->dst, extra_sql, 0, NULL, &extra) < 0)) {
        cli_output_db_error(in->dst);
        goto out;
    }
    if (extra != NULL && sp_db_res_nrows(extra) > 0)
        extra_n = strtoll(sp_db_res_value(extra, 0, 1), NULL, 10);
    const char *dst_cost = sp_db_res_get(dother, 0, "cost");
    int64_t imported = num(dother, 0, "imported");
    bool totals_differ = !in->since && (imported != src_jobs || strcmp(dst_cost, src_cost) != 0 ||
                                        num(dother, 0, "tasks") != num(in->src_other, 0, "tasks"));
    bool failed = in->verify && (c->mismatches > 0 || extra_n > 0 || totals_differ);

    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "shape", json_object_new_string(in->shape));
        json_object_object_add(
            o, "mode", json_object_new_string(in->same_db ? "same-database" : "two-databases"));
        json_object_object_add(o, "type", json_object_new_string(in->type));
        json_object_object_add(o, "dry_run", json_object_new_boolean(in->dry_run));
        json_object_object_add(o, "verify", json_object_new_boolean(in->verify));
        json_object_object_add(o, "resumed", json_object_new_boolean(c->resumed));
        json_object *run = json_object_new_object();
        json_object_object_add(run, "scanned", json_object_new_int64(c->scanned));
        json_object_object_add(run, "inserted", json_object_new_int64(c->inserted));
        json_object_object_add(run, "updated", json_object_new_int64(c->updated));
        json_object_object_add(run, "unchanged", json_object_new_int64(c->unchanged));
        json_object_object_add(run, "conflicts", json_object_new_int64(c->conflicts));
        json_object_object_add(run, "tasks_scanned", json_object_new_int64(c->tasks_scanned));
        json_object_object_add(run, "tasks_written", json_object_new_int64(c->tasks_written));
        json_object_object_add(run, "seconds", json_object_new_double(c->seconds));
        json_object *pairs = json_object_new_array();
        for (int i = 0; i < c->npairs; i++) {
            json_object *p = json_object_new_object();
            json_object_object_add(p, "legacy_status", json_object_new_string(c->pairs[i].legacy));
            json_object_object_add(p, "spool_status", json_object_new_string(c->pairs[i].spool));
            json_object_object_add(p, "jobs", json_object_new_int64(c->pairs[i].jobs));
            json_object_array_add(pairs, p);
        }
        json_object_object_add(run, "statuses", pairs);
        json_object_object_add(o, "run", run);
        json_object *src = cli_output_row_json(in->src_other, 0);
        json_object_object_add(src, "jobs", json_object_new_int64(src_jobs));
        json_object_object_add(src, "cost", json_object_new_string(src_cost));
        json_object_object_add(src, "by_status", cli_output_rows_json(in->src_status));
        json_object_object_add(o, "source", src);
        json_object *dst = cli_output_row_json(dother, 0);
        json_object_object_add(dst, "by_status", cli_output_rows_json(ds));
        json_object_object_add(o, "target", dst);
        if (in->verify) {
            json_object *vf = json_object_new_object();
            json_object_object_add(vf, "differences", json_object_new_int64(c->mismatches));
            json_object_object_add(vf, "missing_in_source", json_object_new_int64(extra_n));
            json_object_object_add(vf, "totals_differ", json_object_new_boolean(totals_differ));
            json_object_object_add(vf, "ok", json_object_new_boolean(!failed));
            json_object_object_add(o, "verify_result", vf);
        }
        cli_output_json(stdout, o);
        json_object_put(o);
    } else {
        printf("import-prisma: shape \"%s\", %s, type %s%s%s\n", in->shape,
               in->same_db ? "same database" : "two databases", in->type,
               in->dry_run ? ", DRY RUN (nothing written)" : "", in->verify ? ", VERIFY" : "");
        double rate = c->seconds > 0 ? (double)c->scanned / c->seconds : 0;
        printf("this run: %" PRId64 " legacy jobs and %" PRId64
               " tasks read in %.1f s (%.0f jobs/s)%s\n",
               c->scanned, c->tasks_scanned, c->seconds, rate,
               c->resumed ? ", resuming an interrupted run" : "");
        if (!in->verify)
            printf("  %s %" PRId64 " inserted, %" PRId64 " updated, %" PRId64 " unchanged, %" PRId64
                   " conflicts (changed in Spool since imported: left alone), %" PRId64 " tasks\n",
                   in->dry_run ? "would be:" : "jobs:", c->inserted, c->updated, c->unchanged,
                   c->conflicts, c->tasks_written);
        printf("  legacy status -> spool status:\n");
        for (int i = 0; i < c->npairs; i++)
            printf("    %-10s -> %-10s %" PRId64 "\n", c->pairs[i].legacy, c->pairs[i].spool,
                   c->pairs[i].jobs);
        printf("source (all legacy rows): %" PRId64 " jobs, cost %s; %s tasks, price %s; %s retry "
               "chains, longest %s\n",
               src_jobs, src_cost, sp_db_res_get(in->src_other, 0, "tasks"),
               sp_db_res_get(in->src_other, 0, "task_price"),
               sp_db_res_get(in->src_other, 0, "chains"),
               sp_db_res_get(in->src_other, 0, "longest_chain"));
        for (int i = 0; i < sp_db_res_nrows(in->src_status); i++)
            printf("    %-10s %10s jobs  cost %s\n", sp_db_res_value(in->src_status, i, 0),
                   sp_db_res_value(in->src_status, i, 1), sp_db_res_value(in->src_status, i, 2));
        printf("target (imported jobs): %" PRId64 " jobs, cost %s; %s tasks, price %s; %s retry "
               "chains, longest %s\n",
               imported, dst_cost, sp_db_res_get(dother, 0, "tasks"),
               sp_db_res_get(dother, 0, "task_price"), sp_db_res_get(dother, 0, "chains"),
               sp_db_res_get(dother, 0, "longest_chain"));
        for (int i = 0; i < sp_db_res_nrows(ds); i++)
            printf("    %-10s %10s jobs  cost %s\n", sp_db_res_value(ds, i, 0),
                   sp_db_res_value(ds, i, 1), sp_db_res_value(ds, i, 2));
        if (!in->since)
            printf("totals: %s\n",
                   totals_differ ? "source and target DIFFER" : "source and target match");
        if (in->verify) {
            for (int i = 0; extra != NULL && i < sp_db_res_nrows(extra); i++)
                printf("mismatch: legacy job %s was imported but is no longer in the source\n",
                       sp_db_res_value(extra, i, 0));
            printf("verify: %" PRId64 " jobs compared, %" PRId64 " differences, %" PRId64
                   " imported jobs missing from the source: %s\n",
                   c->scanned, c->mismatches, extra_n, failed ? "FAILED" : "ok");
        }
    }
    rc = failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
    sp_db_res_free(ds);
    sp_db_res_free(dother);
    sp_db_res_free(extra);
    return rc;
}
