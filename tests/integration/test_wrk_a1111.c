/*
 * The a1111 connector against its stand-in server (tests/standins/a1111.py, started on a free
 * loopback port): txt2img with progress polled from /sdapi/v1/progress, img2img and HTTP Basic
 * auth, 422 and A1111 error bodies, 5xx, hangs and cut connections, an empty answer, cancellation
 * through /sdapi/v1/interrupt, models from /sdapi/v1/sd-models and --check. The worker loop is
 * replaced by tests/support/wrk_ctx_double.c. Skips (77) without python3.
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

static standin s_a1111 = {.name = "a1111"};

/* ---- a1111 --------------------------------------------------------------------------------- */

static void *a1111_state_for(const char *timeout, const char *auth)
{
    const char *kv[] = {"url", s_a1111.url,          "timeout", timeout, "poll_interval",
                        "100", auth ? "auth" : NULL, auth,      NULL};
    return connector_new(&wrk_connector_a1111, kv);
}

static int a1111_setup(void **st)
{
    (void)st;
    standin_reset(&s_a1111, "{\"step_ms\": 30, \"auth\": null}");
    return 0;
}

static void test_a1111_txt2img(void **unused)
{
    (void)unused;
    void *state = a1111_state_for("20", NULL);
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    run_out out = run_job(&wrk_connector_a1111, state,
                          "{\"prompt\": \"a lighthouse\", \"steps\": 20, \"batch_size\": 2, "
                          "\"width\": 48, \"height\": 32, \"seed\": 1234, \"model\": "
                          "\"sd_xl_base_1.0.safetensors\"}",
                          "a1111", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    json_object *images = jget(out.res.result, "images");
    assert_int_equal(json_object_array_length(images), 2);
    assert_string_equal(jstr(images, "0.detected"), "image/png");
    assert_int_equal(json_object_get_int(jget(images, "0.width")), 48);
    assert_int_equal(json_object_get_int(jget(images, "0.height")), 32);
    assert_int_equal(json_object_get_int(jget(out.res.result, "seeds.1")), 1235);
    assert_int_equal(json_object_get_int(jget(out.res.result, "info.steps")), 20);
    /* Progress came from /sdapi/v1/progress while the request ran. */
    assert_true(standin_logged(&s_a1111, "GET", "/sdapi/v1/progress", NULL) >= 2);
    assert_contains(ctx.msgs, "step ");
    assert_true(ctx.progress_calls >= 3);
    assert_int_equal(ctx.last_pct, 100);
    json_object *req = NULL;
    assert_int_equal(standin_logged(&s_a1111, "POST", "/sdapi/v1/txt2img", &req), 1);
    assert_string_equal(jstr(req, "body.override_settings.sd_model_checkpoint"),
                        "sd_xl_base_1.0.safetensors");
    assert_string_equal(jstr(req, "body.force_task_id"),
                        "spool-0b6a5c8e-1111-4222-8333-944455556666-1");
    assert_null(jget(req, "body.model"));
    json_object_put(req);
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_a1111.destroy(state);
}

static void test_a1111_img2img_and_auth(void **unused)
{
    (void)unused;
    standin_control(&s_a1111, "/_control/config", "{\"auth\": \"alice:secret\"}");
    void *state = a1111_state_for("20", "alice:secret");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    run_out out = run_job(&wrk_connector_a1111, state,
                          "{\"init_images\": [\"data:image/png;base64,iVBORw0KGgo=\"], "
                          "\"prompt\": \"x\", \"steps\": 3, \"denoising_strength\": 0.5}",
                          "a1111", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_int_equal(json_object_array_length(jget(out.res.result, "images")), 1);
    assert_int_equal(standin_logged(&s_a1111, "POST", "/sdapi/v1/img2img", NULL), 1);
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_a1111.destroy(state);

    state = a1111_state_for("20", "alice:wrong-password");
    tctx_init(&ctx);
    out = run_job(&wrk_connector_a1111, state, "{\"prompt\": \"x\", \"steps\": 2}", "a1111", &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_PERMANENT);
    assert_contains(out.res.error, "HTTP 401: Incorrect username or password");
    assert_null(strstr(out.res.error, "wrong-password"));
    tctx_free(&ctx);
    wrk_connector_a1111.destroy(state);
}

static void test_a1111_errors(void **unused)
{
    (void)unused;
    void *state = a1111_state_for("1", NULL);
    wrk_job_ctx ctx;
    run_out out;
    struct {
        const char *fault;
        const char *payload;
        wrk_outcome want;
        const char *msg;
    } cases[] = {
        {NULL, "{\"steps\": \"many\"}", WRK_OUTCOME_FAILED_PERMANENT,
         "HTTP 422: body.steps: value is not a valid integer"},
        {NULL, "{\"steps\": 2, \"sampler_name\": \"Nope\"}", WRK_OUTCOME_FAILED_PERMANENT,
         "HTTP 400: Sampler not found"},
        {NULL, "{\"operation\": \"img2img\", \"steps\": 2}", WRK_OUTCOME_FAILED_PERMANENT,
         "HTTP 404: Init image not found"},
        {NULL, "{\"operation\": \"upscale\"}", WRK_OUTCOME_FAILED_PERMANENT,
         "must be txt2img or img2img"},
        {"{\"match\": \"POST /sdapi/v1/txt2img\", \"status\": 500, \"body\": {\"error\": "
         "\"RuntimeError\", \"detail\": \"\", \"body\": \"\", \"errors\": \"CUDA error\"}}",
         "{\"steps\": 2}", WRK_OUTCOME_FAILED_RETRYABLE, "HTTP 500: CUDA error"},
        {"{\"match\": \"POST /sdapi/v1/txt2img\", \"action\": \"close\"}", "{\"steps\": 2}",
         WRK_OUTCOME_FAILED_RETRYABLE, "connection failed mid-response"},
        {"{\"match\": \"POST /sdapi/v1/txt2img\", \"action\": \"hang\", \"seconds\": 5}",
         "{\"steps\": 2}", WRK_OUTCOME_FAILED_RETRYABLE, "request timed out"},
        {"{\"match\": \"POST /sdapi/v1/txt2img\", \"status\": 200, \"body\": {\"images\": [], "
         "\"parameters\": {}, \"info\": \"{}\"}}",
         "{\"steps\": 2}", WRK_OUTCOME_FAILED_RETRYABLE, "returned no images"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        standin_reset(&s_a1111, NULL);
        if (cases[i].fault != NULL)
            standin_fault(&s_a1111, cases[i].fault);
        tctx_init(&ctx);
        out = run_job(&wrk_connector_a1111, state, cases[i].payload, "a1111", &ctx);
        assert_outcome(out, cases[i].want);
        assert_contains(out.res.error, cases[i].msg);
        assert_null(out.res.result);
        assert_true(out.ms < 5000);
        tctx_free(&ctx);
    }
    wrk_connector_a1111.destroy(state);
}

static void test_a1111_cancel(void **unused)
{
    (void)unused;
    void *state = a1111_state_for("60", NULL);
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_at_percent(&ctx, 10, WRK_STOP_CANCELLED);
    run_out out = run_job(&wrk_connector_a1111, state, "{\"prompt\": \"long\", \"steps\": 300}",
                          "a1111", &ctx);
    assert_outcome(out, WRK_OUTCOME_CANCELLED);
    assert_true(out.ms < 6000); /* 300 steps of 30 ms would take 9 s */
    assert_int_equal(standin_logged(&s_a1111, "POST", "/sdapi/v1/interrupt", NULL), 1);
    /* A1111 stopped the generation. */
    int interrupted = 0;
    for (int i = 0; i < 100 && !interrupted; i++) {
        json_object *st = standin_call(&s_a1111, "GET", "/_control/state", NULL, NULL);
        json_object *done = jget(st, "completed");
        size_t n = json_object_array_length(done);
        json_object *last = n ? json_object_array_get_idx(done, n - 1) : NULL;
        interrupted =
            last != NULL &&
            strcmp(jstr(last, "task"), "spool-0b6a5c8e-1111-4222-8333-944455556666-1") == 0 &&
            json_object_get_boolean(jget(last, "interrupted"));
        json_object_put(st);
        if (!interrupted)
            usleep(50 * 1000);
    }
    assert_true(interrupted);
    tctx_free(&ctx);
    wrk_connector_a1111.destroy(state);
}

static void test_a1111_models_and_check(void **unused)
{
    (void)unused;
    void *state = a1111_state_for("20", NULL);
    json_object *models = NULL;
    char err[256], msg[256];
    assert_int_equal(wrk_connector_a1111.models(state, &models, err, sizeof(err)), 0);
    assert_int_equal(json_object_array_length(models), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(models, 0)),
                        "v1-5-pruned-emaonly.safetensors");
    json_object_put(models);
    assert_int_equal(wrk_connector_a1111.check(state, msg, sizeof(msg)), 0);
    assert_contains(msg, "idle");
    /* Without --api every /sdapi path is a 404. */
    standin_fault(&s_a1111, "{\"match\": \"/sdapi\", \"status\": 404, \"body\": {\"detail\": \"Not "
                            "Found\"}, \"count\": -1}");
    assert_true(wrk_connector_a1111.check(state, msg, sizeof(msg)) != 0);
    assert_contains(msg, "--api");
    wrk_connector_a1111.destroy(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a1111_txt2img, a1111_setup),
        cmocka_unit_test_setup(test_a1111_img2img_and_auth, a1111_setup),
        cmocka_unit_test_setup(test_a1111_errors, a1111_setup),
        cmocka_unit_test_setup(test_a1111_cancel, a1111_setup),
        cmocka_unit_test_setup(test_a1111_models_and_check, a1111_setup),
    };
    return standin_run_tests(&s_a1111, tests, sizeof(tests) / sizeof(tests[0]));
}
