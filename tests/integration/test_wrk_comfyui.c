/*
 * The comfyui connector against its stand-in server (tests/standins/comfyui.py, started on a free
 * loopback port): a workflow queued, followed and its outputs fetched through /view (images, video
 * under gifs, text), validation and execution errors, transient and lasting poll failures, a prompt
 * lost by a restart, cancellation while running and while queued (POST /queue delete and
 * /interrupt), a timeout stop, models from /object_info and --check. The worker loop is replaced by
 * tests/support/wrk_ctx_double.c. Skips (77) without python3.
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

static standin s_comfyui = {.name = "comfyui"};

/* ---- comfyui ------------------------------------------------------------------------------- */

static void *comfy_state_for(const char *timeout)
{
    const char *kv[] = {"url", s_comfyui.url,      "timeout", timeout,       "poll_interval",
                        "50",  "expected_seconds", "1",       "poll_errors", "3",
                        NULL};
    return connector_new(&wrk_connector_comfyui, kv);
}

static int comfy_setup(void **st)
{
    (void)st;
    standin_reset(&s_comfyui, "{\"step_ms\": 10, \"forget\": false, \"combo_v3\": false}");
    return 0;
}

#define COMFY_GRAPH(steps, extra)                                                                  \
    "{\"workflow\": {"                                                                             \
    "\"4\": {\"class_type\": \"CheckpointLoaderSimple\", \"inputs\": {\"ckpt_name\": "             \
    "\"v1-5-pruned-emaonly.safetensors\"}},"                                                       \
    "\"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"steps\": " #steps                        \
    ", \"model\": [\"4\", 0]}},"                                                                   \
    "\"8\": {\"class_type\": \"VAEDecode\", \"inputs\": {}}," extra                                \
    "\"9\": {\"class_type\": \"SaveImage\", \"inputs\": {\"filename_prefix\": \"ComfyUI\"}}}}"

static void test_comfyui_success(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    run_out out = run_job(&wrk_connector_comfyui, state,
                          COMFY_GRAPH(40, "\"10\": {\"class_type\": \"PreviewImage\", "
                                          "\"inputs\": {}},"),
                          "comfyui", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    /* The SaveImage output is stored; the PreviewImage (temp) one is not. */
    assert_int_equal(json_object_array_length(jget(out.res.result, "outputs")), 1);
    assert_string_equal(jstr(out.res.result, "outputs.0.node"), "9");
    assert_string_equal(jstr(out.res.result, "outputs.0.kind"), "images");
    assert_string_equal(jstr(out.res.result, "outputs.0.media_type"), "image/png");
    assert_string_equal(jstr(out.res.result, "status"), "success");
    assert_non_null(jstr(out.res.result, "prompt_id"));
    /* Progress: queued/running reports, monotonic, ending at 100. */
    assert_true(ctx.progress_calls >= 3);
    assert_false(ctx.backwards);
    assert_int_equal(ctx.last_pct, 100);
    assert_contains(ctx.msgs, "running");

    json_object *req = NULL;
    assert_int_equal(standin_logged(&s_comfyui, "POST", "/prompt", &req), 1);
    assert_string_equal(jstr(req, "body.client_id"), "spool-0b6a5c8e-1111-4222-8333-944455556666");
    assert_string_equal(jstr(req, "body.prompt.3.class_type"), "KSampler");
    json_object_put(req);
    assert_true(standin_logged(&s_comfyui, "GET", "/history/", NULL) >= 2);
    assert_int_equal(standin_logged(&s_comfyui, "GET", "/view", &req), 1);
    assert_contains(jstr(req, "query"), "type=output");
    json_object_put(req);
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_comfyui.destroy(state);
}

static void test_comfyui_video_and_text(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    run_out out = run_job(
        &wrk_connector_comfyui, state,
        COMFY_GRAPH(2, "\"12\": {\"class_type\": \"VHS_VideoCombine\", \"inputs\": {}},"
                       "\"15\": {\"class_type\": \"PreviewAny\", \"inputs\": {\"source\": \"a "
                       "caption\"}},"),
        "comfyui", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    json_object *outputs = jget(out.res.result, "outputs");
    assert_int_equal(json_object_array_length(outputs), 2);
    int video = 0;
    for (size_t i = 0; i < 2; i++) {
        json_object *o = json_object_array_get_idx(outputs, i);
        if (strcmp(jstr(o, "kind"), "gifs") == 0) {
            video++;
            assert_string_equal(jstr(o, "media_type"), "video/mp4");
            assert_string_equal(jstr(o, "node"), "12");
        }
    }
    assert_int_equal(video, 1);
    assert_string_equal(jstr(out.res.result, "text.15.0"), "a caption");
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_comfyui.destroy(state);
}

static void test_comfyui_errors(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("1");
    wrk_job_ctx ctx;
    run_out out;
    struct {
        const char *fault;
        const char *payload;
        wrk_outcome want;
        const char *msg;
    } cases[] = {
        /* Validation: 400 with node_errors. */
        {NULL,
         "{\"workflow\": {\"4\": {\"class_type\": \"CheckpointLoaderSimple\", \"inputs\": "
         "{\"ckpt_name\": \"nope.safetensors\"}}, \"9\": {\"class_type\": \"SaveImage\", "
         "\"inputs\": {}}}}",
         WRK_OUTCOME_FAILED_PERMANENT, "node 4 (CheckpointLoaderSimple): Value not in list"},
        {NULL, "{\"workflow\": {\"1\": {\"class_type\": \"NoSuchNode\", \"inputs\": {}}}}",
         WRK_OUTCOME_FAILED_PERMANENT, "Cannot execute because node NoSuchNode does not exist"},
        {NULL, "{\"workflow\": {\"3\": {\"class_type\": \"KSampler\", \"inputs\": {}}}}",
         WRK_OUTCOME_FAILED_PERMANENT, "Prompt has no outputs"},
        {NULL, "{\"steps\": 3}", WRK_OUTCOME_FAILED_PERMANENT, "needs workflow"},
        /* Execution errors: permanent, except running out of memory. */
        {NULL,
         COMFY_GRAPH(1, "\"7\": {\"class_type\": \"RaiseError\", \"inputs\": {\"message\": "
                        "\"mat1 and mat2 shapes cannot be multiplied\"}},"),
         WRK_OUTCOME_FAILED_PERMANENT, "node 7 (RaiseError) failed: RuntimeError: mat1"},
        {NULL, COMFY_GRAPH(1, "\"7\": {\"class_type\": \"OOMError\", \"inputs\": {}},"),
         WRK_OUTCOME_FAILED_RETRYABLE, "OutOfMemoryError"},
        /* The service failing. */
        {"{\"match\": \"POST /prompt\", \"status\": 500, \"body\": \"500 Internal Server "
         "Error\"}",
         COMFY_GRAPH(1, ""), WRK_OUTCOME_FAILED_RETRYABLE, "HTTP 500"},
        {"{\"match\": \"POST /prompt\", \"action\": \"close\"}", COMFY_GRAPH(1, ""),
         WRK_OUTCOME_FAILED_RETRYABLE, "connection failed mid-response"},
        {"{\"match\": \"POST /prompt\", \"action\": \"hang\", \"seconds\": 5}", COMFY_GRAPH(1, ""),
         WRK_OUTCOME_FAILED_RETRYABLE, "request timed out"},
        /* Polls failing for longer than comfyui_poll_errors allows. */
        {"{\"match\": \"GET /history\", \"status\": 502, \"body\": \"bad gateway\", \"count\": "
         "-1}",
         COMFY_GRAPH(1, ""), WRK_OUTCOME_FAILED_RETRYABLE, "could not follow the run: HTTP 502"},
        /* The output vanished between history and /view. */
        {"{\"match\": \"GET /view\", \"status\": 404, \"body\": \"\"}", COMFY_GRAPH(1, ""),
         WRK_OUTCOME_FAILED_RETRYABLE, "could not fetch output"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        standin_reset(&s_comfyui, NULL);
        if (cases[i].fault != NULL)
            standin_fault(&s_comfyui, cases[i].fault);
        tctx_init(&ctx);
        out = run_job(&wrk_connector_comfyui, state, cases[i].payload, "comfyui", &ctx);
        assert_outcome(out, cases[i].want);
        assert_contains(out.res.error, cases[i].msg);
        assert_null(out.res.result);
        assert_true(out.ms < 5000);
        tctx_free(&ctx);
    }
    wrk_connector_comfyui.destroy(state);
}

static void test_comfyui_transient_poll_errors(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    /* Two failed polls (fewer than poll_errors = 3 in a row) do not fail the job. */
    standin_fault(&s_comfyui, "{\"match\": \"GET /history\", \"status\": 503, \"body\": \"busy\", "
                              "\"count\": 2}");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    run_out out = run_job(&wrk_connector_comfyui, state, COMFY_GRAPH(5, ""), "comfyui", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_int_equal(json_object_array_length(jget(out.res.result, "outputs")), 1);
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_comfyui.destroy(state);
}

static void test_comfyui_lost_prompt(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    standin_control(&s_comfyui, "/_control/config", "{\"forget\": true}");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    run_out out = run_job(&wrk_connector_comfyui, state, COMFY_GRAPH(5, ""), "comfyui", &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_RETRYABLE);
    assert_contains(out.res.error, "neither queued nor in history");
    tctx_free(&ctx);
    wrk_connector_comfyui.destroy(state);
}

/* Waits until the stand-in's state shows prompt pid in history with the given status. */
static const char *comfy_history_status(const char *pid)
{
    static char status[32];
    status[0] = '\0';
    for (int i = 0; i < 100 && status[0] == '\0'; i++) {
        json_object *st = standin_call(&s_comfyui, "GET", "/_control/state", NULL, NULL);
        json_object *h = jget(st, "history");
        json_object *v;
        if (h != NULL && json_object_object_get_ex(h, pid, &v))
            snprintf(status, sizeof(status), "%s", json_object_get_string(v));
        json_object_put(st);
        if (status[0] == '\0')
            usleep(50 * 1000);
    }
    return status;
}

static void test_comfyui_cancel_running(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_at_percent(&ctx, 5, WRK_STOP_CANCELLED); /* as soon as it runs */
    run_out out = run_job(&wrk_connector_comfyui, state, COMFY_GRAPH(3000, ""), "comfyui", &ctx);
    assert_outcome(out, WRK_OUTCOME_CANCELLED);
    assert_true(out.ms < 5000); /* 3000 steps of 10 ms would take 30 s */
    json_object *req = NULL;
    assert_int_equal(standin_logged(&s_comfyui, "POST", "/interrupt", &req), 1);
    const char *pid = jstr(req, "body.prompt_id");
    assert_non_null(pid);
    char prompt_id[128];
    snprintf(prompt_id, sizeof(prompt_id), "%s", pid);
    json_object_put(req);
    assert_int_equal(standin_logged(&s_comfyui, "POST", "/queue", &req), 1);
    assert_string_equal(jstr(req, "body.delete.0"), prompt_id);
    json_object_put(req);
    /* ComfyUI really stopped it: its history says error (interrupted). */
    assert_string_equal(comfy_history_status(prompt_id), "error");
    tctx_free(&ctx);
    wrk_connector_comfyui.destroy(state);
}

static void test_comfyui_cancel_pending(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    /* Someone else's long run holds the GPU; ours waits in the queue. */
    json_object *blocker =
        standin_call(&s_comfyui, "POST", "/prompt",
                     "{\"prompt\": {\"3\": {\"class_type\": \"KSampler\", \"inputs\": "
                     "{\"steps\": 3000}}, \"9\": {\"class_type\": \"SaveImage\", "
                     "\"inputs\": {}}}}",
                     NULL);
    char blocker_id[128];
    snprintf(blocker_id, sizeof(blocker_id), "%s", jstr(blocker, "prompt_id"));
    json_object_put(blocker);
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_after(&ctx, 600, WRK_STOP_CANCELLED);
    run_out out = run_job(&wrk_connector_comfyui, state, COMFY_GRAPH(1, ""), "comfyui", &ctx);
    assert_outcome(out, WRK_OUTCOME_CANCELLED);
    assert_contains(ctx.msgs, "queued (position 1)");
    json_object *req = NULL;
    assert_int_equal(standin_logged(&s_comfyui, "POST", "/queue", &req), 1);
    char ours[128];
    snprintf(ours, sizeof(ours), "%s", jstr(req, "body.delete.0"));
    json_object_put(req);
    /* Ours left the queue; the blocker was not interrupted (the interrupt names our id). */
    json_object *st = standin_call(&s_comfyui, "GET", "/_control/state", NULL, NULL);
    assert_int_equal(json_object_array_length(jget(st, "pending")), 0);
    assert_string_equal(jstr(st, "running"), blocker_id);
    json_object *interrupts = jget(st, "interrupts");
    size_t ni = json_object_array_length(interrupts);
    assert_true(ni > 0);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(interrupts, ni - 1)),
                        ours);
    json_object_put(st);
    char body[256];
    snprintf(body, sizeof(body), "{\"prompt_id\": \"%s\"}", blocker_id);
    json_object_put(standin_call(&s_comfyui, "POST", "/interrupt", body, NULL));
    assert_string_equal(comfy_history_status(blocker_id), "error");
    tctx_free(&ctx);
    wrk_connector_comfyui.destroy(state);
}

static void test_comfyui_timeout_stop(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_after(&ctx, 400, WRK_STOP_TIMEOUT);
    run_out out = run_job(&wrk_connector_comfyui, state, COMFY_GRAPH(3000, ""), "comfyui", &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_RETRYABLE);
    assert_contains(out.res.error, "job timed out");
    assert_int_equal(standin_logged(&s_comfyui, "POST", "/interrupt", NULL), 1);
    tctx_free(&ctx);
    wrk_connector_comfyui.destroy(state);
}

static void test_comfyui_models_and_check(void **unused)
{
    (void)unused;
    void *state = comfy_state_for("10");
    char err[256] = "";
    json_object *models = NULL;
    assert_int_equal(wrk_connector_comfyui.models(state, &models, err, sizeof(err)), 0);
    assert_int_equal(json_object_array_length(models), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(models, 0)),
                        "v1-5-pruned-emaonly.safetensors");
    json_object_put(models);
    /* New-style (V3) combo spelling. */
    standin_control(&s_comfyui, "/_control/config",
                    "{\"combo_v3\": true, \"models\": [\"a.ckpt\"]}");
    assert_int_equal(wrk_connector_comfyui.models(state, &models, err, sizeof(err)), 0);
    assert_int_equal(json_object_array_length(models), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(models, 0)), "a.ckpt");
    json_object_put(models);
    standin_control(&s_comfyui, "/_control/config",
                    "{\"combo_v3\": false, \"models\": [\"v1-5-pruned-emaonly.safetensors\", "
                    "\"sd_xl_base_1.0.safetensors\"]}");
    char msg[512];
    assert_int_equal(wrk_connector_comfyui.check(state, msg, sizeof(msg)), 0);
    assert_contains(msg, "ComfyUI 0.3.64, 1 device(s)");
    wrk_connector_comfyui.destroy(state);

    const char *kv[] = {"url", "http://127.0.0.1:1", "connect_timeout", "2", NULL};
    state = connector_new(&wrk_connector_comfyui, kv);
    assert_true(wrk_connector_comfyui.models(state, &models, err, sizeof(err)) != 0);
    assert_contains(err, "could not connect");
    assert_true(wrk_connector_comfyui.check(state, msg, sizeof(msg)) != 0);
    wrk_connector_comfyui.destroy(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_comfyui_success, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_video_and_text, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_errors, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_transient_poll_errors, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_lost_prompt, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_cancel_running, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_cancel_pending, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_timeout_stop, comfy_setup),
        cmocka_unit_test_setup(test_comfyui_models_and_check, comfy_setup),
    };
    return standin_run_tests(&s_comfyui, tests, sizeof(tests) / sizeof(tests[0]));
}
