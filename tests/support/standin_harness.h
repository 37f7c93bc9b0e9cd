/*
 * standin_harness: what the connector tests share — starting a stand-in server
 * (tests/standins/<name>.py) on a free loopback port and stopping it, its control API
 * (faults, settings, the log of requests it saw), running one job through a connector with
 * the test double of the loop (wrk_ctx_double), and small JSON path getters.
 *
 * Include after <cmocka.h>: the helpers fail the running test through cmocka.
 */
#ifndef STANDIN_HARNESS_H
#define STANDIN_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "wrk_connector.h"

typedef struct {
    const char *name; /* the script's base name: tests/standins/<name>.py */
    pid_t pid;
    int port;
    char url[64]; /* http://127.0.0.1:<port> */
} standin;

/* Skips (77) without python3; otherwise starts s, runs the tests as one group, stops s. */
int standin_run_tests(standin *s, const struct CMUnitTest *tests, size_t n);

/* Calls the stand-in (a service route or the control API); returns the parsed JSON answer
 * (owned; NULL when the body is empty or not JSON) and the status in *code (may be NULL). */
json_object *standin_call(standin *s, const char *method, const char *path, const char *body,
                          long *code);
/* POSTs to a control path and asserts a 200. */
void standin_control(standin *s, const char *path, const char *body);
/* Adds a fault (see tests/standins/standin.py). */
void standin_fault(standin *s, const char *spec);
/* Forgets faults and the request log; then merges config (JSON, may be NULL) into the
 * service's settings. */
void standin_reset(standin *s, const char *config);
/* How many logged requests have this method and path prefix; *last (owned, may be NULL)
 * receives the last of them. */
int standin_logged(standin *s, const char *method, const char *prefix, json_object **last);

/* Creates a connector from "key", "value", … NULL settings; fails the test on error. */
void *connector_new(const wrk_connector_ops *ops, const char *const *kv);

typedef struct {
    wrk_result res;
    int64_t ms; /* how long run() took */
} run_out;

/* Runs one job (payload as JSON text) through the connector with ctx. */
run_out run_job(const wrk_connector_ops *ops, void *state, const char *payload_json,
                const char *type, wrk_job_ctx *ctx);

const char *outcome_name(wrk_outcome o);

/* The value at a dotted path ("a.b.0.c": object keys and array indexes), or NULL. */
json_object *jget(json_object *obj, const char *path);
/* Its string form, or NULL. */
const char *jstr(json_object *obj, const char *path);

#define assert_outcome(out, want)                                                                  \
    do {                                                                                           \
        if ((out).res.outcome != (want))                                                           \
            fail_msg("outcome %s, want %s (error: %s)", outcome_name((out).res.outcome),           \
                     outcome_name(want), (out).res.error);                                         \
    } while (0)

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL)                                                       \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                           \
    } while (0)

#endif
