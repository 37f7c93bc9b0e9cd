/* standin_harness: stand-in servers and connector runs for the connector tests; see the
 * header. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "standin_harness.h"

#include "sp_json.h"
#include "wrk_ctx_double.h"
#include "wrk_http.h"

#ifndef SPOOL_SOURCE_DIR
#define SPOOL_SOURCE_DIR "."
#endif

static char tmpdir[] = "/tmp/spool-standin-XXXXXX";
static standin *current;

static int standin_start(standin *s)
{
    char script[512], portfile[512];
    snprintf(script, sizeof(script), "%s/tests/standins/%s.py", SPOOL_SOURCE_DIR, s->name);
    snprintf(portfile, sizeof(portfile), "%s/%s.port", tmpdir, s->name);
    unlink(portfile);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0 && !getenv("STANDIN_VERBOSE"))
            dup2(devnull, 1);
        execlp("python3", "python3", "-B", script, "--port-file", portfile, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 300; i++) { /* up to 30 s on a busy machine */
        FILE *f = fopen(portfile, "r");
        if (f != NULL) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) {
                s->port = port;
                snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", port);
                return 0;
            }
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        usleep(100 * 1000);
    }
    return -1;
}

static void standin_stop(standin *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static int group_setup(void **st)
{
    (void)st;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    if (standin_start(current) != 0) {
        fprintf(stderr, "could not start the %s stand-in\n", current->name);
        return -1;
    }
    return 0;
}

static int group_teardown(void **st)
{
    (void)st;
    standin_stop(current);
    char portfile[512];
    snprintf(portfile, sizeof(portfile), "%s/%s.port", tmpdir, current->name);
    unlink(portfile);
    rmdir(tmpdir);
    return 0;
}

int standin_run_tests(standin *s, const struct CMUnitTest *tests, size_t n)
{
    if (system("python3 -c 'import http.server' >/dev/null 2>&1") != 0) {
        printf("python3 is not available: skipping the %s stand-in tests\n", s->name);
        return 77;
    }
    if (wrk_http_global_init() != 0)
        return 1;
    current = s;
    return _cmocka_run_group_tests(s->name, tests, n, group_setup, group_teardown);
}

json_object *standin_call(standin *s, const char *method, const char *path, const char *body,
                          long *code)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", s->url, path);
    wrk_http_request req = {.method = method, .url = url, .timeout_ms = 10000};
    if (body != NULL) {
        req.body = body;
        req.body_len = strlen(body);
    }
    wrk_http_response resp;
    assert_int_equal(wrk_http_perform(&req, &resp), 0);
    assert_int_equal(resp.status, WRK_HTTP_DONE);
    if (code != NULL)
        *code = resp.code;
    json_object *out = NULL;
    if (wrk_http_body_len(&resp) > 0 && wrk_http_json(&resp, &out) < 0)
        out = NULL;
    wrk_http_response_free(&resp);
    return out;
}

void standin_control(standin *s, const char *path, const char *body)
{
    long code = 0;
    json_object_put(standin_call(s, "POST", path, body, &code));
    assert_int_equal(code, 200);
}

void standin_fault(standin *s, const char *spec)
{
    standin_control(s, "/_control/fault", spec);
}

void standin_reset(standin *s, const char *config)
{
    standin_control(s, "/_control/reset", "{\"log\": true}");
    if (config != NULL)
        standin_control(s, "/_control/config", config);
}

int standin_logged(standin *s, const char *method, const char *prefix, json_object **last)
{
    json_object *log = standin_call(s, "GET", "/_control/log", NULL, NULL);
    int n = 0;
    if (last != NULL)
        *last = NULL;
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        json_object *e = json_object_array_get_idx(log, i);
        const char *m = NULL, *p = NULL;
        if (sp_json_get_string(e, "method", &m) == 0 && sp_json_get_string(e, "path", &p) == 0 &&
            strcmp(m, method) == 0 && strncmp(p, prefix, strlen(prefix)) == 0) {
            n++;
            if (last != NULL) {
                json_object_put(*last);
                *last = json_object_get(e);
            }
        }
    }
    json_object_put(log);
    return n;
}

void *connector_new(const wrk_connector_ops *ops, const char *const *kv)
{
    wrk_connector_config cfg = {.kv = kv};
    void *state = NULL;
    char err[256] = "";
    int rc = ops->create(&cfg, &state, err, sizeof(err));
    if (rc != 0)
        fail_msg("create %s: %s", ops->name, err);
    return state;
}

run_out run_job(const wrk_connector_ops *ops, void *state, const char *payload_json,
                const char *type, wrk_job_ctx *ctx)
{
    json_object *payload = NULL;
    char err[128];
    assert_int_equal(sp_json_parse(payload_json, &payload, err, sizeof(err)), 0);
    wrk_job job = {.id = "0b6a5c8e-1111-4222-8333-944455556666",
                   .type = type,
                   .worker_id = "test-worker",
                   .attempt = 1,
                   .timeout_seconds = 60,
                   .payload = payload};
    run_out out;
    memset(&out, 0, sizeof(out));
    int64_t t0 = wrk_http_now_ms();
    ops->run(state, &job, ctx, &out.res);
    out.ms = wrk_http_now_ms() - t0;
    json_object_put(payload);
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "    %s: outcome=%s ms=%lld error=%s result=%s\n", ops->name,
                outcome_name(out.res.outcome), (long long)out.ms, out.res.error,
                sp_json_to_string(out.res.result, false));
    return out;
}

const char *outcome_name(wrk_outcome o)
{
    static const char *const names[] = {"completed", "failed_retryable", "failed_permanent",
                                        "cancelled"};
    return (unsigned)o < 4 ? names[o] : "?";
}

json_object *jget(json_object *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_object *cur = obj;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
         tok = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(cur, json_type_array))
            cur = json_object_array_get_idx(cur, (size_t)atoi(tok));
        else if (!json_object_object_get_ex(cur, tok, &cur))
            cur = NULL;
    }
    return cur;
}

const char *jstr(json_object *obj, const char *path)
{
    json_object *v = jget(obj, path);
    return v ? json_object_get_string(v) : NULL;
}
