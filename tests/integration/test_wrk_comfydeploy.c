/*
 * The comfydeploy connector against its stand-in server (tests/standins/comfydeploy.py, started on
 * a free loopback port): a run created, polled and its media downloaded (images, gifs) without
 * credentials, the legacy v1 API, failed runs, 404/422/401 answers, 5xx, hangs and cut connections,
 * transient poll failures, cancellation through POST /run/{id}/cancel, --check and a missing key.
 * The worker loop is replaced by tests/support/wrk_ctx_double.c. Skips (77) without python3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sp_json.h"
#include "standin_harness.h"
#include "wrk_connector.h"
#include "wrk_ctx_double.h"
#include "wrk_http.h"

static standin s_comfydeploy = {.name = "comfydeploy"};

/* ---- comfydeploy --------------------------------------------------------------------------- */

static const char *const DEPLOYMENT = "15e79589-12c9-453c-a41a-348fdd7de957";

static void *cd_state_for(const char *key, const char *version)
{
    char url[96];
    snprintf(url, sizeof(url), "%s/api", s_comfydeploy.url);
    const char *kv[] = {"url",         url,           "api_key", key,       "poll_interval",
                        "30",          "api_version", version,   "timeout", "2",
                        "poll_errors", "3",           NULL};
    return connector_new(&wrk_connector_comfydeploy, kv);
}

static int cd_setup(void **st)
{
    (void)st;
    standin_reset(&s_comfydeploy, "{\"step_ms\": 40, \"steps\": 5, \"v1\": false}");
    return 0;
}

static void test_comfydeploy_success(void **unused)
{
    (void)unused;
    void *state = cd_state_for("cd-test-key", "2");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    char payload[512];
    snprintf(payload, sizeof(payload),
             "{\"deployment_id\": \"%s\", \"inputs\": {\"video\": true, \"text\": \"caption\", "
             "\"seed\": 42}, \"gpu\": \"A10G\"}",
             DEPLOYMENT);
    run_out out = run_job(&wrk_connector_comfydeploy, state, payload, "comfydeploy", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    json_object *outputs = jget(out.res.result, "outputs");
    assert_int_equal(json_object_array_length(outputs), 2);
    assert_string_equal(jstr(outputs, "0.kind"), "images");
    assert_string_equal(jstr(outputs, "0.media_type"), "image/png");
    assert_string_equal(jstr(outputs, "0.node_class"), "SaveImage");
    assert_string_equal(jstr(outputs, "1.kind"), "gifs");
    assert_string_equal(jstr(outputs, "1.media_type"), "video/mp4");
    assert_string_equal(jstr(outputs, "1.filename"), "AnimateDiff_00001.mp4");
    assert_string_equal(jstr(out.res.result, "data.15.text.0"), "caption");
    assert_string_equal(jstr(out.res.result, "status"), "success");
    /* Progress followed the run (live_status while running), and ended at 100. */
    assert_contains(ctx.msgs, "Executing KSampler");
    assert_false(ctx.backwards);
    assert_int_equal(ctx.last_pct, 100);

    json_object *req = NULL;
    assert_int_equal(standin_logged(&s_comfydeploy, "POST", "/api/run/deployment/queue", &req), 1);
    assert_string_equal(jstr(req, "headers.authorization"), "Bearer cd-test-key");
    assert_string_equal(jstr(req, "body.deployment_id"), DEPLOYMENT);
    assert_int_equal(json_object_get_int(jget(req, "body.inputs.seed")), 42);
    assert_string_equal(jstr(req, "body.gpu"), "A10G");
    json_object_put(req);
    assert_true(standin_logged(&s_comfydeploy, "GET", "/api/run/", NULL) >= 3);
    /* Storage URLs get no credentials. */
    assert_int_equal(standin_logged(&s_comfydeploy, "GET", "/files/", &req), 2);
    assert_null(jget(req, "headers.authorization"));
    json_object_put(req);
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_comfydeploy.destroy(state);
}

static void test_comfydeploy_v1(void **unused)
{
    (void)unused;
    standin_control(&s_comfydeploy, "/_control/config", "{\"v1\": true}");
    void *state = cd_state_for("cd-test-key", "1");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"deployment_id\": \"%s\", \"inputs\": {}}", DEPLOYMENT);
    run_out out = run_job(&wrk_connector_comfydeploy, state, payload, "comfydeploy", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_int_equal(json_object_array_length(jget(out.res.result, "outputs")), 1);
    assert_int_equal(standin_logged(&s_comfydeploy, "POST", "/api/run", NULL), 1);
    json_object *req = NULL;
    assert_true(standin_logged(&s_comfydeploy, "GET", "/api/run", &req) >= 1);
    assert_contains(jstr(req, "query"), "run_id=");
    json_object_put(req);
    json_object_put(out.res.result);
    tctx_free(&ctx);

    /* v1 reports an unknown deployment as a 500: still permanent. */
    tctx_init(&ctx);
    out = run_job(&wrk_connector_comfydeploy, state,
                  "{\"deployment_id\": \"00000000-0000-0000-0000-000000000001\"}", "comfydeploy",
                  &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_PERMANENT);
    assert_contains(out.res.error, "Deployment not found");
    tctx_free(&ctx);
    wrk_connector_comfydeploy.destroy(state);
}

static void test_comfydeploy_errors(void **unused)
{
    (void)unused;
    void *state = cd_state_for("cd-test-key", "2");
    void *badkey = cd_state_for("cd-wrong-key-0000", "2");
    wrk_job_ctx ctx;
    run_out out;
    char ok_payload[256], fail_payload[256];
    snprintf(ok_payload, sizeof(ok_payload), "{\"deployment_id\": \"%s\"}", DEPLOYMENT);
    snprintf(fail_payload, sizeof(fail_payload),
             "{\"deployment_id\": \"%s\", \"inputs\": {\"fail\": true}}", DEPLOYMENT);
    struct {
        void *state;
        const char *fault;
        const char *payload;
        wrk_outcome want;
        const char *msg;
    } cases[] = {
        {state, NULL, fail_payload, WRK_OUTCOME_FAILED_PERMANENT, "ended with status failed"},
        {state, NULL, "{\"deployment_id\": \"00000000-0000-0000-0000-000000000009\"}",
         WRK_OUTCOME_FAILED_PERMANENT, "HTTP 404: Deployment not found"},
        {state, NULL, "{\"deployment_id\": \"not-a-uuid\"}", WRK_OUTCOME_FAILED_PERMANENT,
         "HTTP 422: body.deployment_id: Input should be a valid UUID"},
        {state, NULL, "{\"inputs\": {}}", WRK_OUTCOME_FAILED_PERMANENT, "needs deployment_id"},
        {badkey, NULL, ok_payload, WRK_OUTCOME_FAILED_PERMANENT,
         "HTTP 401: Invalid or expired token"},
        {state,
         "{\"match\": \"POST /api/run\", \"status\": 500, \"body\": {\"detail\": "
         "\"Internal Server Error\"}}",
         ok_payload, WRK_OUTCOME_FAILED_RETRYABLE, "HTTP 500"},
        {state, "{\"match\": \"POST /api/run\", \"action\": \"hang\", \"seconds\": 5}", ok_payload,
         WRK_OUTCOME_FAILED_RETRYABLE, "request timed out"},
        {state, "{\"match\": \"GET /api/run/\", \"action\": \"close\", \"count\": -1}", ok_payload,
         WRK_OUTCOME_FAILED_RETRYABLE, "could not follow the run"},
        {state, "{\"match\": \"GET /files/\", \"status\": 403, \"body\": \"AccessDenied\"}",
         ok_payload, WRK_OUTCOME_FAILED_PERMANENT, "could not fetch output"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        standin_reset(&s_comfydeploy, NULL);
        if (cases[i].fault != NULL)
            standin_fault(&s_comfydeploy, cases[i].fault);
        tctx_init(&ctx);
        out = run_job(&wrk_connector_comfydeploy, cases[i].state, cases[i].payload, "comfydeploy",
                      &ctx);
        assert_outcome(out, cases[i].want);
        assert_contains(out.res.error, cases[i].msg);
        assert_null(strstr(out.res.error, "cd-wrong-key-0000"));
        assert_null(out.res.result);
        assert_true(out.ms < 6000);
        tctx_free(&ctx);
    }
    /* Transient poll failures (fewer than poll_errors in a row) are ridden out. */
    standin_reset(&s_comfydeploy, NULL);
    standin_fault(&s_comfydeploy, "{\"match\": \"GET /api/run/\", \"status\": 502, \"body\": \"bad "
                                  "gateway\", \"count\": 2}");
    tctx_init(&ctx);
    out = run_job(&wrk_connector_comfydeploy, state, ok_payload, "comfydeploy", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_comfydeploy.destroy(badkey);
    wrk_connector_comfydeploy.destroy(state);
}

static void test_comfydeploy_cancel(void **unused)
{
    (void)unused;
    standin_control(&s_comfydeploy, "/_control/config", "{\"steps\": 200}");
    void *state = cd_state_for("cd-test-key", "2");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_at_percent(&ctx, 10, WRK_STOP_CANCELLED);
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"deployment_id\": \"%s\"}", DEPLOYMENT);
    run_out out = run_job(&wrk_connector_comfydeploy, state, payload, "comfydeploy", &ctx);
    assert_outcome(out, WRK_OUTCOME_CANCELLED);
    json_object *req = NULL;
    /* Two POSTs: the run's creation, then its cancellation. */
    assert_int_equal(standin_logged(&s_comfydeploy, "POST", "/api/run/", &req), 2);
    const char *path = jstr(req, "path");
    assert_non_null(strstr(path, "/cancel"));
    assert_string_equal(jstr(req, "headers.authorization"), "Bearer cd-test-key");
    char run_id[64];
    snprintf(run_id, sizeof(run_id), "%.36s", path + strlen("/api/run/"));
    json_object_put(req);
    json_object *st = standin_call(&s_comfydeploy, "GET", "/_control/state", NULL, NULL);
    char key[80];
    snprintf(key, sizeof(key), "runs.%s", run_id);
    assert_string_equal(jstr(st, key), "cancelled");
    json_object_put(st);
    tctx_free(&ctx);
    wrk_connector_comfydeploy.destroy(state);
}

static void test_comfydeploy_check_and_config(void **unused)
{
    (void)unused;
    void *state = cd_state_for("cd-test-key", "2");
    char msg[512];
    assert_int_equal(wrk_connector_comfydeploy.check(state, msg, sizeof(msg)), 0);
    assert_contains(msg, "key accepted");
    wrk_connector_comfydeploy.destroy(state);
    state = cd_state_for("cd-bad-key-xyz", "2");
    assert_true(wrk_connector_comfydeploy.check(state, msg, sizeof(msg)) != 0);
    assert_contains(msg, "check comfydeploy_api_key");
    assert_null(strstr(msg, "cd-bad-key-xyz"));
    wrk_connector_comfydeploy.destroy(state);

    /* No key at all is a configuration error at start-up. */
    unsetenv("COMFYDEPLOY_API_KEY");
    const char *kv[] = {"url", "http://127.0.0.1:1", NULL};
    wrk_connector_config cfg = {.kv = kv};
    void *none = NULL;
    char err[256] = "";
    assert_int_equal(wrk_connector_comfydeploy.create(&cfg, &none, err, sizeof(err)), SP_E_INVAL);
    assert_contains(err, "comfydeploy_api_key is not set");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_comfydeploy_success, cd_setup),
        cmocka_unit_test_setup(test_comfydeploy_v1, cd_setup),
        cmocka_unit_test_setup(test_comfydeploy_errors, cd_setup),
        cmocka_unit_test_setup(test_comfydeploy_cancel, cd_setup),
        cmocka_unit_test_setup(test_comfydeploy_check_and_config, cd_setup),
    };
    return standin_run_tests(&s_comfydeploy, tests, sizeof(tests) / sizeof(tests[0]));
}
