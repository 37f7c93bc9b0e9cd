/* Unit tests for import_prisma_map: shapes, status and cost mapping, ids, COPY lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "import_prisma_map.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void cents(const char *in, const char *want)
{
    char out[64];
    assert_int_equal(cli_pmap_cents_to_dollars(in, out, sizeof out), 0);
    assert_string_equal(out, want);
}

static void test_cents_to_dollars(void **state)
{
    (void)state;
    cents("12345", "123.45");
    cents("100", "1");
    cents("110", "1.1");
    cents("10", "0.1");
    cents("5", "0.05");
    cents("0", "0");
    cents("-5", "-0.05");
    cents("-0", "0");
    cents("007", "0.07");
    cents("2147483647", "21474836.47");
    char out[64];
    assert_int_equal(cli_pmap_cents_to_dollars("1.5", out, sizeof out), SP_E_INVAL);
    assert_int_equal(cli_pmap_cents_to_dollars("", out, sizeof out), SP_E_INVAL);
    assert_int_equal(cli_pmap_cents_to_dollars("12345", out, 4), SP_E_RANGE);
}

static void dec(const char *in, const char *want)
{
    char out[64];
    assert_int_equal(cli_pmap_decimal(in, out, sizeof out), 0);
    assert_string_equal(out, want);
}

static void test_decimal(void **state)
{
    (void)state;
    dec("1.230000", "1.23");
    dec("0.100000", "0.1");
    dec("0.000000", "0");
    dec("-000.50", "-0.5");
    dec("7", "7");
    dec("0.000001", "0.000001");
    dec("1234.000000", "1234");
    dec("-0.000", "0");
    char out[64];
    assert_int_equal(cli_pmap_decimal("1e5", out, sizeof out), SP_E_INVAL);
    assert_int_equal(cli_pmap_decimal("NaN", out, sizeof out), SP_E_INVAL);
    assert_int_equal(cli_pmap_decimal(".", out, sizeof out), SP_E_INVAL);
}

static void test_timestamp(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(cli_pmap_timestamp("2025-07-13 10:00:00.5", out, sizeof out), 0);
    assert_string_equal(out, "2025-07-13 10:00:00.5+00");
    assert_int_equal(cli_pmap_timestamp("2025-07-13 10:00:00+02", out, sizeof out), 0);
    assert_string_equal(out, "2025-07-13 10:00:00+02");
    assert_int_equal(cli_pmap_timestamp("2025-07-13 10:00:00-05:30", out, sizeof out), 0);
    assert_string_equal(out, "2025-07-13 10:00:00-05:30");
    assert_int_equal(cli_pmap_timestamp("infinity", out, sizeof out), 0);
    assert_string_equal(out, "infinity");
    assert_int_equal(cli_pmap_timestamp("0044-03-15 12:00:00 BC", out, sizeof out), 0);
    assert_string_equal(out, "0044-03-15 12:00:00+00 BC");
    assert_int_equal(cli_pmap_timestamp("yesterday", out, sizeof out), SP_E_INVAL);
}

static void test_uuid(void **state)
{
    (void)state;
    char out[37];
    /* Prisma's uuid() ids are kept, lowercased. */
    assert_int_equal(cli_pmap_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E", "Job", out), 0);
    assert_string_equal(out, "0f8fad5b-d9cb-469f-a165-70867728950e");
    /* Anything else: the same name-based UUIDv8 spool.import_uuid computes (values taken
     * from the SQL function). */
    assert_int_equal(cli_pmap_uuid("clx1abc2def3ghi4jkl5mno6", "Job", out), 0);
    assert_string_equal(out, "3a708327-0fef-879b-a438-d5b3b3f470ca");
    assert_int_equal(cli_pmap_uuid("clx1abc2def3ghi4jkl5mno6", "Task", out), 0);
    assert_string_equal(out, "ec1c9761-08e3-897c-9721-3c0e37275b10");
    assert_int_equal(out[14], '8');
    /* Almost a UUID is not one. */
    assert_int_equal(cli_pmap_uuid("0f8fad5b-d9cb-469f-a165-70867728950", "Job", out), 0);
    assert_int_equal(out[14], '8');
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(cli_pmap_uuid(big, "Job", out), SP_E_RANGE);
}

static void test_status(void **state)
{
    (void)state;
    const char *st;
    bool live;
    assert_int_equal(cli_pmap_status("PENDING", false, CLI_PMAP_RUNNING_REQUEUE, &st, &live), 0);
    assert_string_equal(st, "pending");
    assert_true(live);
    assert_int_equal(cli_pmap_status("RUNNING", false, CLI_PMAP_RUNNING_REQUEUE, &st, &live), 0);
    assert_string_equal(st, "pending");
    assert_true(live);
    assert_int_equal(cli_pmap_status("RUNNING", false, CLI_PMAP_RUNNING_FAIL, &st, &live), 0);
    assert_string_equal(st, "dead");
    assert_false(live);
    assert_int_equal(cli_pmap_status("COMPLETED", false, CLI_PMAP_RUNNING_FAIL, &st, &live), 0);
    assert_string_equal(st, "completed");
    assert_int_equal(cli_pmap_status("FAILED", false, CLI_PMAP_RUNNING_FAIL, &st, &live), 0);
    assert_string_equal(st, "dead");
    assert_int_equal(cli_pmap_status("FAILED", true, CLI_PMAP_RUNNING_FAIL, &st, &live), 0);
    assert_string_equal(st, "failed");
    assert_false(live);
    assert_int_equal(cli_pmap_status("CANCELLED", false, CLI_PMAP_RUNNING_FAIL, &st, &live), 0);
    assert_string_equal(st, "cancelled");
    assert_int_equal(cli_pmap_status("DONE", false, CLI_PMAP_RUNNING_FAIL, &st, &live), SP_E_INVAL);
    cli_pmap_running m;
    assert_int_equal(cli_pmap_parse_running("fail", &m), 0);
    assert_int_equal(m, CLI_PMAP_RUNNING_FAIL);
    assert_int_equal(cli_pmap_parse_running("retry", &m), SP_E_INVAL);
}

static const char *const job_v1[] = {"id",
                                     "status",
                                     "attempts",
                                     "error",
                                     "startedAt",
                                     "completedAt",
                                     "createdAt",
                                     "updatedAt",
                                     "llmThinking",
                                     "costInCents",
                                     "durationInSeconds",
                                     "logs",
                                     "evaluationId",
                                     "evaluationVersionId"};
static const char *const job_head[] = {"id",
                                       "status",
                                       "attempts",
                                       "error",
                                       "startedAt",
                                       "completedAt",
                                       "createdAt",
                                       "updatedAt",
                                       "llmThinking",
                                       "priceInDollars",
                                       "durationInSeconds",
                                       "logs",
                                       "evaluationId",
                                       "evaluationVersionId",
                                       "originalJobId",
                                       "agentEvalBatchId",
                                       "pgBossJobId",
                                       "cancelledAt",
                                       "cancelledById",
                                       "cancellationReason",
                                       "telemetryProgress"};
static const char *const job_retry[] = {"id",
                                        "status",
                                        "attempts",
                                        "error",
                                        "startedAt",
                                        "completedAt",
                                        "createdAt",
                                        "updatedAt",
                                        "llmThinking",
                                        "costInCents",
                                        "durationInSeconds",
                                        "logs",
                                        "evaluationId",
                                        "evaluationVersionId",
                                        "originalJobId",
                                        "agentEvalBatchId"};
static const char *const task_cents[] = {
    "id",  "name",      "modelName", "priceInCents", "timeInSeconds",
    "log", "createdAt", "updatedAt", "jobId",        "llmInteractions"};
static const char *const task_dollars[] = {
    "id",  "name",      "modelName", "priceInDollars", "timeInSeconds",
    "log", "createdAt", "updatedAt", "jobId",          "llmInteractions"};
static const char *const eval[] = {"id", "createdAt", "documentId", "agentId"};
static const char *const st4[] = {"PENDING", "RUNNING", "COMPLETED", "FAILED"};
static const char *const st5[] = {"PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"};

static void test_detect(void **state)
{
    (void)state;
    cli_pmap_shape s;
    char err[1024];
    assert_int_equal(cli_pmap_detect(job_v1, N(job_v1), NULL, 0, eval, N(eval), st4, N(st4), &s,
                                     err, sizeof err),
                     0);
    assert_false(s.has_tasks);
    assert_non_null(strstr(s.name, "initial"));
    assert_int_equal(cli_pmap_detect(job_v1, N(job_v1), task_cents, N(task_cents), eval, N(eval),
                                     st4, N(st4), &s, err, sizeof err),
                     0);
    assert_true(s.has_tasks && !s.has_retries && s.task_llm);
    assert_int_equal(cli_pmap_detect(job_retry, N(job_retry), task_cents, N(task_cents), eval,
                                     N(eval), st4, N(st4), &s, err, sizeof err),
                     0);
    assert_true(s.has_retries && s.job_cents && !s.task_dollars);
    assert_int_equal(cli_pmap_detect(job_retry, N(job_retry), task_dollars, N(task_dollars), eval,
                                     N(eval), st4, N(st4), &s, err, sizeof err),
                     0);
    assert_true(s.task_dollars && s.job_cents && !s.job_dollars);
    assert_int_equal(cli_pmap_detect(job_head, N(job_head), task_dollars, N(task_dollars), eval,
                                     N(eval), st5, N(st5), &s, err, sizeof err),
                     0);
    assert_true(s.has_cancel && s.has_pgboss && s.job_dollars && !s.job_cents);

    /* Unknown: a column no shape has, a missing one, a missing table, a strange status. */
    const char *odd[N(job_retry) + 1];
    memcpy(odd, job_retry, sizeof job_retry);
    odd[N(job_retry)] = "priority";
    assert_int_equal(cli_pmap_detect(odd, N(odd), task_cents, N(task_cents), eval, N(eval), st4,
                                     N(st4), &s, err, sizeof err),
                     SP_E_NOTFOUND);
    assert_non_null(strstr(err, "unexpected \"Job\".\"priority\""));
    assert_non_null(strstr(err, "2025-06-22 retries"));
    assert_int_equal(cli_pmap_detect(job_retry, N(job_retry) - 1, task_cents, N(task_cents), eval,
                                     N(eval), st4, N(st4), &s, err, sizeof err),
                     SP_E_NOTFOUND);
    /* Half of the retry columns: as far from the shape before as from the one after. */
    assert_non_null(strstr(err, "unrecognised schema"));
    assert_non_null(strstr(err, "originalJobId"));
    assert_int_equal(
        cli_pmap_detect(NULL, 0, NULL, 0, eval, N(eval), st4, N(st4), &s, err, sizeof err),
        SP_E_NOTFOUND);
    assert_non_null(strstr(err, "no table \"Job\""));
    const char *weird[] = {"PENDING", "ARCHIVED"};
    assert_int_equal(
        cli_pmap_detect(job_v1, N(job_v1), NULL, 0, eval, N(eval), weird, 2, &s, err, sizeof err),
        SP_E_NOTFOUND);
    assert_non_null(strstr(err, "ARCHIVED"));
}

static void test_escaping(void **state)
{
    (void)state;
    sp_buf *b;
    assert_int_equal(sp_buf_new(&b, 1024), 0);
    assert_int_equal(cli_pmap_json_string(b, "a\"b\\c\nd\x01"), 0);
    assert_string_equal(sp_buf_data(b), "\"a\\\"b\\\\c\\nd\\u0001\"");
    sp_buf_reset(b);
    assert_int_equal(cli_pmap_copy_field(b, "tab\there\\ and\nnl\r"), 0);
    assert_string_equal(sp_buf_data(b), "tab\\there\\\\ and\\nnl\\r");
    sp_buf_reset(b);
    assert_int_equal(cli_pmap_copy_field(b, NULL), 0);
    assert_string_equal(sp_buf_data(b), "\\N");
    sp_buf_free(b);
}

/* Splits a COPY line into its fields (no unescaping). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && *p != '\n'; p++)
        if (*p == '\t' && n < max) {
            *p = '\0';
            f[n++] = p + 1;
        }
    char *nl = strchr(f[n - 1], '\n');
    if (nl)
        *nl = '\0';
    return n;
}

static void test_job_lines(void **state)
{
    (void)state;
    sp_buf *jobs, *tasks, *scratch;
    assert_int_equal(sp_buf_new(&jobs, 1 << 16), 0);
    assert_int_equal(sp_buf_new(&tasks, 1 << 16), 0);
    assert_int_equal(sp_buf_new(&scratch, 1 << 16), 0);
    cli_pmap_job job = {
        .id = "clx1abc2def3ghi4jkl5mno6",
        .status = "FAILED",
        .attempts = "2",
        .error = "rate limit \"429\"\n",
        .started_at = "2025-07-01 10:00:01",
        .completed_at = NULL,
        .created_at = "2025-07-01 10:00:00",
        .updated_at = "2025-07-01 10:05:00.25",
        .llm_thinking = NULL,
        .cost_in_cents = "10",
        .price_in_dollars = NULL,
        .duration_seconds = "61",
        .logs = "a\tb",
        .evaluation_id = "ev1",
        .evaluation_version_id = NULL,
        .agent_eval_batch_id = "b1",
        .original_job_id = "0F8FAD5B-D9CB-469F-A165-70867728950E",
        .root_id = NULL,
        .has_successor = true,
        .document_id = "doc1",
        .agent_id = "ag1",
    };
    cli_pmap_task t[2] = {
        {.id = "t1",
         .job_id = job.id,
         .name = "grade",
         .model_name = "m",
         .price_in_cents = "3",
         .created_at = "2025-07-01 10:00:02",
         .updated_at = "2025-07-01 10:00:03",
         .llm_interactions = "[{\"a\": 1}]"},
        {.id = "t2",
         .job_id = job.id,
         .name = "sum",
         .model_name = "m",
         .price_in_dollars = "0.100000",
         .time_seconds = "4",
         .log = "x",
         .created_at = "2025-07-01 10:00:04",
         .updated_at = NULL},
    };
    cli_pmap_options opts = {"evaluation", CLI_PMAP_RUNNING_REQUEUE};
    cli_pmap_outcome oc;
    char err[256];
    assert_int_equal(
        cli_pmap_job_lines(&job, t, 2, &opts, jobs, tasks, scratch, &oc, err, sizeof err), 0);
    assert_string_equal(oc.status, "failed");
    assert_string_equal(oc.cost, "0.1");

    char *line = strdup(sp_buf_data(jobs));
    char *f[32];
    assert_int_equal(split(line, f, 32), 21);
    assert_string_equal(f[0], "3a708327-0fef-879b-a438-d5b3b3f470ca");
    assert_string_equal(f[1], "failed");
    assert_string_equal(f[2], "2025-07-01 10:00:00+00");
    assert_string_equal(f[3], "{\"evaluationId\":\"ev1\",\"evaluationVersionId\":null,"
                              "\"agentEvalBatchId\":\"b1\",\"documentId\":\"doc1\","
                              "\"agentId\":\"ag1\"}");
    assert_string_equal(f[4], "{\"llmThinking\":null,\"durationInSeconds\":61,"
                              "\"logs\":\"a\\\\tb\"}");
    assert_string_equal(f[5], "rate limit \"429\"\\n");
    /* errors: the one error, at the finish time (completedAt missing: updatedAt) */
    assert_string_equal(f[6], "[{\"attempt\":2,\"error\":\"rate limit \\\\\"429\\\\\"\\\\n\","
                              "\"at\":\"2025-07-01 10:05:00.25+00\"}]");
    assert_string_equal(f[7], "2");
    assert_non_null(strstr(f[8], "\"id\":\"clx1abc2def3ghi4jkl5mno6\""));
    assert_non_null(strstr(f[8], "\"costInCents\":10"));
    assert_non_null(strstr(f[8], "\"originalJobId\":\"0F8FAD5B-D9CB-469F-A165-70867728950E\""));
    assert_string_equal(f[9], "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_string_equal(f[10], "0");
    assert_string_equal(f[11], "\\N");
    assert_string_equal(f[13], "0.1");
    assert_string_equal(f[14], "2025-07-01 10:00:00+00");
    assert_string_equal(f[15], "2025-07-01 10:00:01+00");
    assert_string_equal(f[16], "2025-07-01 10:05:00.25+00");
    assert_string_equal(f[17], "clx1abc2def3ghi4jkl5mno6");
    assert_string_equal(f[18], "FAILED");
    assert_int_equal(strlen(f[19]), 32);
    assert_string_equal(f[20], "f");
    /* The offsets the writer composes its lines from. */
    assert_int_equal(oc.line_len, strlen(sp_buf_data(jobs)));
    assert_memory_equal(sp_buf_data(jobs) + oc.body_len, "\tclx1abc2def3ghi4jkl5mno6\tFAILED\t",
                        33);
    assert_memory_equal(sp_buf_data(jobs) + oc.rows_len, "\tf\n", 3);
    assert_string_equal(oc.id, "3a708327-0fef-879b-a438-d5b3b3f470ca");
    assert_string_equal(oc.checksum, f[19]);
    assert_string_equal(oc.legacy_status, "FAILED");
    assert_int_equal(oc.attempts, 2);
    assert_int_equal(oc.ntasks, 2);
    assert_int_equal(oc.tasks_len, strlen(sp_buf_data(tasks)));
    char sum1[33];
    strcpy(sum1, f[19]);
    free(line);

    line = strdup(sp_buf_data(tasks));
    assert_int_equal(split(line, f, 32), 11);
    assert_string_equal(f[1], "3a708327-0fef-879b-a438-d5b3b3f470ca");
    assert_string_equal(f[2], "t1");
    assert_string_equal(f[5], "0.03");
    assert_string_equal(f[8], "[{\"a\": 1}]");
    assert_string_equal(strchr(sp_buf_data(tasks), '\n')[1] != '\0' ? "2" : "1", "2");
    free(line);

    /* The checksum follows every input: a task's price, then the RUNNING mode. */
    sp_buf_reset(jobs);
    sp_buf_reset(tasks);
    t[1].price_in_dollars = "0.100001";
    assert_int_equal(
        cli_pmap_job_lines(&job, t, 2, &opts, jobs, tasks, scratch, &oc, err, sizeof err), 0);
    assert_string_not_equal(oc.checksum, sum1);

    /* RUNNING with --running fail: dead, "interrupted by migration", finished at updatedAt;
     * requeue: pending in job_live, startedAt kept in metadata only. */
    job.status = "RUNNING";
    opts.running = CLI_PMAP_RUNNING_FAIL;
    sp_buf_reset(jobs);
    sp_buf_reset(tasks);
    assert_int_equal(
        cli_pmap_job_lines(&job, NULL, 0, &opts, jobs, tasks, scratch, &oc, err, sizeof err), 0);
    assert_string_equal(oc.status, "dead");
    assert_non_null(strstr(sp_buf_data(jobs), "\t" CLI_PMAP_INTERRUPTED "\t"));
    opts.running = CLI_PMAP_RUNNING_REQUEUE;
    sp_buf_reset(jobs);
    assert_int_equal(
        cli_pmap_job_lines(&job, NULL, 0, &opts, jobs, tasks, scratch, &oc, err, sizeof err), 0);
    assert_string_equal(oc.status, "pending");
    assert_true(oc.live);
    assert_non_null(strstr(sp_buf_data(jobs), "\"requeued\":true"));

    /* Bad input names the job. */
    job.status = "EXPLODED";
    assert_int_equal(
        cli_pmap_job_lines(&job, NULL, 0, &opts, jobs, tasks, scratch, &oc, err, sizeof err),
        SP_E_INVAL);
    assert_non_null(strstr(err, "clx1abc2def3ghi4jkl5mno6"));
    job.status = "PENDING";
    job.cost_in_cents = "12.5";
    assert_int_equal(
        cli_pmap_job_lines(&job, NULL, 0, &opts, jobs, tasks, scratch, &oc, err, sizeof err),
        SP_E_INVAL);
    assert_non_null(strstr(err, "costInCents"));
    sp_buf_free(jobs);
    sp_buf_free(tasks);
    sp_buf_free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cents_to_dollars), cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_timestamp),        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_status),           cmocka_unit_test(test_detect),
        cmocka_unit_test(test_escaping),         cmocka_unit_test(test_job_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
