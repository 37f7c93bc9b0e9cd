/*
 * The openai connector against its stand-in server (tests/standins/openai.py, started on a free
 * loopback port): chat completions (text, usage, messages, the payload's key over the configured
 * one), image generation (base64 and URL answers, usage), every error class (rate limit, quota,
 * 5xx, validation, unknown model, a hang, a cut connection, nothing listening), cancellation and
 * timeouts, --check. The worker loop is replaced by tests/support/wrk_ctx_double.c. Skips (77)
 * without python3.
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

static standin s_openai = {.name = "openai"};

/* ---- openai -------------------------------------------------------------------------------- */

static void *openai_state_for(const char *key, const char *timeout)
{
    const char *kv[] = {"url", NULL, "api_key", key, "timeout", timeout, "connect_timeout",
                        "2",   NULL};
    char url[96];
    snprintf(url, sizeof(url), "%s/v1", s_openai.url);
    kv[1] = url;
    return connector_new(&wrk_connector_openai, kv);
}

static int openai_setup(void **st)
{
    (void)st;
    standin_reset(&s_openai, "{\"api_key\": \"sk-test\", \"delay_ms\": 0}");
    return 0;
}

static void test_openai_chat(void **unused)
{
    (void)unused;
    void *state = openai_state_for("sk-test", "10");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    run_out out = run_job(&wrk_connector_openai, state,
                          "{\"prompt\": \"hello there world\", \"model\": \"gpt-4o-mini\", "
                          "\"max_tokens\": 50, \"temperature\": 0.5}",
                          "openai_text", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_string_equal(jstr(out.res.result, "text"), "Echo: hello there world");
    assert_string_equal(jstr(out.res.result, "finish_reason"), "stop");
    assert_true(json_object_get_int(jget(out.res.result, "usage.total_tokens")) > 0);
    assert_non_null(jget(out.res.result, "usage.prompt_tokens"));
    assert_null(strstr(sp_json_to_string(out.res.result, false), "sk-test"));
    assert_int_equal(ctx.last_pct, 100);

    json_object *req = NULL;
    assert_int_equal(standin_logged(&s_openai, "POST", "/v1/chat/completions", &req), 1);
    assert_string_equal(jstr(req, "headers.authorization"), "Bearer sk-test");
    assert_string_equal(jstr(req, "body.messages.0.role"), "user");
    assert_string_equal(jstr(req, "body.messages.0.content"), "hello there world");
    assert_int_equal(json_object_get_int(jget(req, "body.max_tokens")), 50);
    assert_string_equal(jstr(req, "body.temperature"), "0.5");
    json_object_put(req);
    json_object_put(out.res.result);
    tctx_free(&ctx);
    wrk_connector_openai.destroy(state);
}

static void test_openai_messages_and_payload_key(void **unused)
{
    (void)unused;
    void *state = openai_state_for("sk-wrong-config-key-123", "10");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    /* The payload's key wins over the configured one. */
    run_out out = run_job(&wrk_connector_openai, state,
                          "{\"api_key\": \"sk-test\", \"n\": 2, \"max_tokens\": 2, \"messages\": "
                          "[{\"role\": \"system\", \"content\": \"be brief\"}, "
                          "{\"role\": \"user\", \"content\": \"one two three\"}]}",
                          "openai_text", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_string_equal(jstr(out.res.result, "text"), "Echo: one");
    assert_string_equal(jstr(out.res.result, "finish_reason"), "length");
    assert_int_equal(json_object_array_length(jget(out.res.result, "texts")), 2);
    json_object_put(out.res.result);

    /* Without it, the configured (wrong) key: 401, permanent, key not in the message. */
    tctx_free(&ctx);
    tctx_init(&ctx);
    out = run_job(&wrk_connector_openai, state, "{\"prompt\": \"hi\"}", "openai_text", &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_PERMANENT);
    assert_contains(out.res.error, "HTTP 401");
    assert_contains(out.res.error, "Incorrect API key provided");
    assert_null(strstr(out.res.error, "sk-wrong-config-key-123"));
    tctx_free(&ctx);
    wrk_connector_openai.destroy(state);
}

static void test_openai_errors(void **unused)
{
    (void)unused;
    void *state = openai_state_for("sk-test", "1");
    wrk_job_ctx ctx;
    run_out out;
    const char *hi = "{\"prompt\": \"hi\"}";
    struct {
        const char *fault;
        const char *payload;
        wrk_outcome want;
        const char *msg;
    } cases[] = {
        {"{\"match\": \"POST /v1/chat\", \"action\": \"preset\", \"preset\": \"rate_limit\"}", hi,
         WRK_OUTCOME_FAILED_RETRYABLE, "retry after 2 s"},
        {"{\"match\": \"POST /v1/chat\", \"action\": \"preset\", \"preset\": \"quota\"}", hi,
         WRK_OUTCOME_FAILED_PERMANENT, "exceeded your current quota"},
        {"{\"match\": \"POST /v1/chat\", \"action\": \"preset\", \"preset\": \"server_error\"}", hi,
         WRK_OUTCOME_FAILED_RETRYABLE, "HTTP 500: The server had an error"},
        {"{\"match\": \"POST /v1/chat\", \"action\": \"preset\", \"preset\": \"overloaded\"}", hi,
         WRK_OUTCOME_FAILED_RETRYABLE, "HTTP 503"},
        {NULL, "{\"prompt\": \"hi\", \"temperature\": 5}", WRK_OUTCOME_FAILED_PERMANENT,
         "Invalid 'temperature'"},
        {NULL, "{\"prompt\": \"hi\", \"model\": \"gpt-9\"}", WRK_OUTCOME_FAILED_PERMANENT,
         "HTTP 404: The model `gpt-9` does not exist"},
        {"{\"match\": \"POST /v1/chat\", \"action\": \"close\"}", hi, WRK_OUTCOME_FAILED_RETRYABLE,
         "connection failed mid-response"},
        {"{\"match\": \"POST /v1/chat\", \"action\": \"hang\", \"seconds\": 5}", hi,
         WRK_OUTCOME_FAILED_RETRYABLE, "request timed out"},
        {NULL, "{\"prompt\": \"hi\", \"temperature\": \"hot\"}", WRK_OUTCOME_FAILED_PERMANENT,
         "payload.temperature must be a number"},
        {NULL, "{\"max_tokens\": 5}", WRK_OUTCOME_FAILED_PERMANENT, "needs a prompt"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        standin_reset(&s_openai, NULL);
        if (cases[i].fault != NULL)
            standin_fault(&s_openai, cases[i].fault);
        tctx_init(&ctx);
        out = run_job(&wrk_connector_openai, state, cases[i].payload, "openai_text", &ctx);
        assert_outcome(out, cases[i].want);
        assert_contains(out.res.error, cases[i].msg);
        assert_null(out.res.result);
        assert_true(out.ms < 4000); /* the hang is cut by openai_timeout = 1 s */
        tctx_free(&ctx);
    }
    /* Nothing listening: a connection error, retryable. */
    const char *kv[] = {"url", "http://127.0.0.1:1/v1", "api_key", "sk-test", NULL};
    void *dead = connector_new(&wrk_connector_openai, kv);
    tctx_init(&ctx);
    out = run_job(&wrk_connector_openai, dead, hi, "openai_text", &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_RETRYABLE);
    assert_contains(out.res.error, "could not connect");
    tctx_free(&ctx);
    wrk_connector_openai.destroy(dead);
    wrk_connector_openai.destroy(state);
}

static void test_openai_images(void **unused)
{
    (void)unused;
    void *state = openai_state_for("sk-test", "10");
    wrk_job_ctx ctx;

    /* dall-e-3 (the default image model): asked for base64, stored, revised prompt kept. */
    tctx_init(&ctx);
    run_out out =
        run_job(&wrk_connector_openai, state, "{\"prompt\": \"a red fox\"}", "openai_image", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_int_equal(json_object_array_length(jget(out.res.result, "images")), 1);
    assert_string_equal(jstr(out.res.result, "images.0.media_type"), "image/png");
    assert_string_equal(jstr(out.res.result, "images.0.revised_prompt"),
                        "A detailed rendering of a red fox");
    assert_int_equal(json_object_get_int(jget(out.res.result, "images.0.width")), 16);
    json_object *req = NULL;
    assert_int_equal(standin_logged(&s_openai, "POST", "/v1/images/generations", &req), 1);
    assert_string_equal(jstr(req, "body.response_format"), "b64_json");
    assert_string_equal(jstr(req, "body.model"), "dall-e-3");
    json_object_put(req);
    json_object_put(out.res.result);
    tctx_free(&ctx);

    /* URL answers are downloaded — without the API key. */
    standin_reset(&s_openai, NULL);
    tctx_init(&ctx);
    out = run_job(&wrk_connector_openai, state,
                  "{\"operation\": \"image\", \"prompt\": \"a cat\", \"model\": \"dall-e-2\", "
                  "\"n\": 2, \"response_format\": \"url\"}",
                  "whatever", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_int_equal(json_object_array_length(jget(out.res.result, "images")), 2);
    assert_string_equal(jstr(out.res.result, "images.1.detected"), "image/png");
    assert_int_equal(standin_logged(&s_openai, "GET", "/files/", &req), 2);
    assert_null(jget(req, "headers.authorization"));
    json_object_put(req);
    json_object_put(out.res.result);
    tctx_free(&ctx);

    /* GPT image models: base64 always, usage recorded, no response_format sent. */
    standin_reset(&s_openai, NULL);
    tctx_init(&ctx);
    out = run_job(&wrk_connector_openai, state,
                  "{\"prompt\": \"a dog\", \"model\": \"gpt-image-1\", \"n\": 2, "
                  "\"output_format\": \"png\"}",
                  "openai_image", &ctx);
    assert_outcome(out, WRK_OUTCOME_COMPLETED);
    assert_int_equal(json_object_array_length(ctx.stored), 2);
    assert_int_equal(json_object_get_int(jget(out.res.result, "usage.output_tokens")), 8320);
    json_object_put(out.res.result);
    tctx_free(&ctx);

    /* The output store failing is retryable. */
    tctx_init(&ctx);
    ctx.store_fail = 1;
    out =
        run_job(&wrk_connector_openai, state, "{\"prompt\": \"a red fox\"}", "openai_image", &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_RETRYABLE);
    assert_contains(out.res.error, "could not store output");
    tctx_free(&ctx);
    wrk_connector_openai.destroy(state);
}

static void test_openai_cancel(void **unused)
{
    (void)unused;
    void *state = openai_state_for("sk-test", "30");
    standin_control(&s_openai, "/_control/config", "{\"delay_ms\": 5000}");
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_after(&ctx, 300, WRK_STOP_CANCELLED);
    run_out out =
        run_job(&wrk_connector_openai, state, "{\"prompt\": \"slow\"}", "openai_text", &ctx);
    assert_outcome(out, WRK_OUTCOME_CANCELLED);
    assert_true(wrk_http_now_ms() - ctx.stopped_at_ms < 1000); /* aborted promptly */
    tctx_free(&ctx);

    /* A stop for a timeout is a retryable failure, not a cancellation. */
    tctx_init(&ctx);
    tctx_stop_after(&ctx, 300, WRK_STOP_TIMEOUT);
    out = run_job(&wrk_connector_openai, state, "{\"prompt\": \"slow\"}", "openai_text", &ctx);
    assert_outcome(out, WRK_OUTCOME_FAILED_RETRYABLE);
    assert_contains(out.res.error, "timed out");
    tctx_free(&ctx);
    wrk_connector_openai.destroy(state);
}

static void test_openai_check(void **unused)
{
    (void)unused;
    void *state = openai_state_for("sk-test", "10");
    char msg[512];
    assert_int_equal(wrk_connector_openai.check(state, msg, sizeof(msg)), 0);
    assert_contains(msg, "key is accepted");
    wrk_connector_openai.destroy(state);
    state = openai_state_for("sk-nope-nope-nope", "10");
    assert_true(wrk_connector_openai.check(state, msg, sizeof(msg)) != 0);
    assert_contains(msg, "HTTP 401");
    assert_null(strstr(msg, "sk-nope-nope-nope"));
    wrk_connector_openai.destroy(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_openai_chat, openai_setup),
        cmocka_unit_test_setup(test_openai_messages_and_payload_key, openai_setup),
        cmocka_unit_test_setup(test_openai_errors, openai_setup),
        cmocka_unit_test_setup(test_openai_images, openai_setup),
        cmocka_unit_test_setup(test_openai_cancel, openai_setup),
        cmocka_unit_test_setup(test_openai_check, openai_setup),
    };
    return standin_run_tests(&s_openai, tests, sizeof(tests) / sizeof(tests[0]));
}
