/*
 * wrk_http and wrk_base64: the service error shapes read into messages, the outcome each
 * failure maps to, secrets kept out of messages, media types, URL escaping, base64, and the
 * transport's own failures (nothing listening, a job already stopped). No server needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wrk_base64.h"
#include "wrk_ctx_double.h"
#include "wrk_http.h"

/* A response as wrk_http_perform would leave it. */
static wrk_http_response response(long code, const char *body)
{
    wrk_http_response r;
    memset(&r, 0, sizeof(r));
    r.status = WRK_HTTP_DONE;
    r.code = code;
    r.retry_after_s = -1;
    r.should_retry = -1;
    assert_int_equal(sp_buf_new(&r.body, 1 << 20), 0);
    assert_int_equal(sp_buf_appends(r.body, body), 0);
    return r;
}

static void expect_message(long code, const char *body, const char *want)
{
    wrk_http_response r = response(code, body);
    char msg[256];
    assert_string_equal(wrk_http_error_message(&r, msg, sizeof(msg)), want);
    wrk_http_response_free(&r);
}

static void test_error_shapes(void **unused)
{
    (void)unused;
    /* OpenAI and ComfyUI: {"error": {"message"}}. */
    expect_message(429,
                   "{\"error\": {\"message\": \"Rate limit reached\", \"type\": \"requests\", "
                   "\"param\": null, \"code\": \"rate_limit_exceeded\"}}",
                   "Rate limit reached");
    /* A1111: detail when set, else errors, else the exception class. */
    expect_message(400,
                   "{\"error\": \"HTTPException\", \"detail\": \"Sampler not found\", "
                   "\"body\": \"\", \"errors\": \"\"}",
                   "Sampler not found");
    expect_message(500,
                   "{\"error\": \"RuntimeError\", \"detail\": \"\", \"body\": \"\", "
                   "\"errors\": \"model 'x' not found\"}",
                   "model 'x' not found");
    expect_message(500, "{\"error\": \"Deployment not found\"}", "Deployment not found");
    /* FastAPI: a string detail, or a validation list. */
    expect_message(404, "{\"detail\": \"Run not found\"}", "Run not found");
    expect_message(422,
                   "{\"detail\": [{\"loc\": [\"body\", \"steps\"], \"msg\": \"value is not a "
                   "valid integer\", \"type\": \"type_error.integer\"}]}",
                   "body.steps: value is not a valid integer");
    expect_message(422,
                   "{\"detail\": [{\"loc\": [\"body\", 0], \"msg\": \"a\"}, {\"loc\": [], "
                   "\"msg\": \"b\"}]}",
                   "body.0: a (and 1 more)");
    /* Legacy ComfyDeploy {"code", "message"}; plain text; nothing. */
    expect_message(400, "{\"code\": 400, \"message\": \"Workflow not found\"}",
                   "Workflow not found");
    expect_message(401, "Invalid or expired token\nmore", "Invalid or expired token");
    expect_message(502, "", "");
    expect_message(500, "{not json", "{not json");
}

static void test_outcomes(void **unused)
{
    (void)unused;
    struct {
        long code;
        wrk_outcome want;
    } cases[] = {
        {200, WRK_OUTCOME_COMPLETED},        {400, WRK_OUTCOME_FAILED_PERMANENT},
        {401, WRK_OUTCOME_FAILED_PERMANENT}, {403, WRK_OUTCOME_FAILED_PERMANENT},
        {404, WRK_OUTCOME_FAILED_PERMANENT}, {422, WRK_OUTCOME_FAILED_PERMANENT},
        {408, WRK_OUTCOME_FAILED_RETRYABLE}, {409, WRK_OUTCOME_FAILED_RETRYABLE},
        {429, WRK_OUTCOME_FAILED_RETRYABLE}, {500, WRK_OUTCOME_FAILED_RETRYABLE},
        {502, WRK_OUTCOME_FAILED_RETRYABLE}, {503, WRK_OUTCOME_FAILED_RETRYABLE},
        {302, WRK_OUTCOME_FAILED_PERMANENT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wrk_http_response r = response(cases[i].code, "");
        assert_int_equal(wrk_http_outcome(&r, NULL), cases[i].want);
        wrk_http_response_free(&r);
    }
    /* x-should-retry wins over the status. */
    wrk_http_response r = response(500, "");
    r.should_retry = 0;
    assert_int_equal(wrk_http_outcome(&r, NULL), WRK_OUTCOME_FAILED_PERMANENT);
    r.code = 400;
    r.should_retry = 1;
    assert_int_equal(wrk_http_outcome(&r, NULL), WRK_OUTCOME_FAILED_RETRYABLE);
    /* Transport failures. */
    wrk_http_status retryable[] = {WRK_HTTP_E_CONNECT, WRK_HTTP_E_TIMEOUT, WRK_HTTP_E_TRANSFER,
                                   WRK_HTTP_E_TLS};
    for (size_t i = 0; i < 4; i++) {
        r.status = retryable[i];
        assert_int_equal(wrk_http_outcome(&r, NULL), WRK_OUTCOME_FAILED_RETRYABLE);
    }
    r.status = WRK_HTTP_E_TOO_LARGE;
    assert_int_equal(wrk_http_outcome(&r, NULL), WRK_OUTCOME_FAILED_PERMANENT);
    /* A stop: cancelled, unless the job ran out of time. */
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_after(&ctx, 0, WRK_STOP_CANCELLED);
    assert_true(wrk_job_should_stop(&ctx));
    r.status = WRK_HTTP_E_STOPPED;
    assert_int_equal(wrk_http_outcome(&r, &ctx), WRK_OUTCOME_CANCELLED);
    tctx_free(&ctx);
    tctx_init(&ctx);
    tctx_stop_after(&ctx, 0, WRK_STOP_TIMEOUT);
    assert_true(wrk_job_should_stop(&ctx));
    assert_int_equal(wrk_http_outcome(&r, &ctx), WRK_OUTCOME_FAILED_RETRYABLE);
    tctx_free(&ctx);
    wrk_http_response_free(&r);
}

static void test_fail_message(void **unused)
{
    (void)unused;
    wrk_result res;
    memset(&res, 0, sizeof(res));
    wrk_http_response r = response(429, "{\"error\": {\"message\": \"slow down, sk-secret-123 "
                                        "and sk-secret-123\"}}");
    r.retry_after_s = 20;
    wrk_http_fail(&res, &r, NULL, "openai", "sk-secret-123");
    assert_int_equal(res.outcome, WRK_OUTCOME_FAILED_RETRYABLE);
    assert_string_equal(res.error, "openai: HTTP 429: slow down, *** and *** (retry after 20 s)");
    wrk_http_response_free(&r);

    r = response(0, "");
    r.status = WRK_HTTP_E_TIMEOUT;
    snprintf(r.error, sizeof(r.error), "Operation timed out after 1000 milliseconds");
    wrk_http_fail(&res, &r, NULL, "comfyui", NULL);
    assert_string_equal(res.error,
                        "comfyui: request timed out: Operation timed out after 1000 milliseconds");
    wrk_http_response_free(&r);
}

static void test_media_and_escape(void **unused)
{
    (void)unused;
    assert_string_equal(wrk_http_media_type("image/webp", "x.png"), "image/webp");
    assert_string_equal(wrk_http_media_type("application/octet-stream", "a.MP4"), "video/mp4");
    assert_string_equal(wrk_http_media_type("", "ComfyUI_00001_.png"), "image/png");
    assert_string_equal(wrk_http_media_type(NULL, "clip.webm"), "video/webm");
    assert_null(wrk_http_media_type("binary/octet-stream", "blob"));
    assert_null(wrk_http_media_type(NULL, NULL));
    char out[64];
    assert_int_equal(wrk_http_escape("a b/c&d=é", out, sizeof(out)), 0);
    assert_string_equal(out, "a%20b%2Fc%26d%3D%C3%A9");
    assert_int_equal(wrk_http_escape("abcdef", out, 4), SP_E_RANGE);
}

static void test_base64(void **unused)
{
    (void)unused;
    unsigned char *bytes = NULL;
    size_t len = 0;
    char media[64];
    assert_int_equal(wrk_base64_decode("aGVsbG8gd29ybGQ=", &bytes, &len, media, sizeof(media)), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(bytes, "hello world", 11);
    assert_string_equal(media, "");
    free(bytes);
    assert_int_equal(wrk_base64_decode("data:image/png;base64,iVBORw0K\nGgo", &bytes, &len, media,
                                       sizeof(media)),
                     0);
    assert_string_equal(media, "image/png");
    assert_int_equal(len, 8);
    assert_memory_equal(bytes, "\x89PNG\r\n\x1a\n", 8);
    free(bytes);
    assert_int_equal(wrk_base64_decode("-_8", &bytes, &len, NULL, 0), 0); /* URL-safe */
    assert_int_equal(len, 2);
    assert_int_equal(bytes[0], 0xfb);
    assert_int_equal(bytes[1], 0xff);
    free(bytes);
    assert_int_equal(wrk_base64_decode("abc$", &bytes, &len, NULL, 0), SP_E_PARSE);
    assert_null(bytes);
    assert_int_equal(wrk_base64_decode("data:image/png,abc", &bytes, &len, NULL, 0), SP_E_PARSE);
}

static void test_transport_failures(void **unused)
{
    (void)unused;
    wrk_http_response r;
    /* Nothing listens on port 1. */
    wrk_http_request req = {.url = "http://127.0.0.1:1/", .connect_timeout_ms = 2000};
    assert_int_equal(wrk_http_perform(&req, &r), 0);
    assert_int_equal(r.status, WRK_HTTP_E_CONNECT);
    assert_int_equal(wrk_http_outcome(&r, NULL), WRK_OUTCOME_FAILED_RETRYABLE);
    wrk_http_response_free(&r);
    /* Only http and https. */
    req.url = "file:///etc/passwd";
    assert_int_equal(wrk_http_perform(&req, &r), 0);
    assert_int_equal(r.status, WRK_HTTP_E_OTHER);
    assert_int_equal(wrk_http_body_len(&r), 0);
    wrk_http_response_free(&r);
    /* A job that must stop sends nothing. */
    wrk_job_ctx ctx;
    tctx_init(&ctx);
    tctx_stop_after(&ctx, 0, WRK_STOP_CANCELLED);
    req.url = "http://127.0.0.1:1/";
    req.ctx = &ctx;
    assert_int_equal(wrk_http_perform(&req, &r), 0);
    assert_int_equal(r.status, WRK_HTTP_E_STOPPED);
    assert_int_equal(wrk_http_outcome(&r, &ctx), WRK_OUTCOME_CANCELLED);
    wrk_http_response_free(&r);
    /* Sleeping wakes on a stop. */
    int64_t t0 = wrk_http_now_ms();
    assert_int_equal(wrk_http_sleep(&ctx, 5000), 1);
    assert_true(wrk_http_now_ms() - t0 < 1000);
    tctx_free(&ctx);
    assert_int_equal(wrk_http_sleep(NULL, 20), 0);
    /* A missing URL is a programmer error. */
    wrk_http_request none = {0};
    assert_int_equal(wrk_http_perform(&none, &r), SP_E_INVAL);
    wrk_http_response_free(&r);
}

int main(void)
{
    if (wrk_http_global_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_shapes), cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_fail_message), cmocka_unit_test(test_media_and_escape),
        cmocka_unit_test(test_base64),       cmocka_unit_test(test_transport_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
