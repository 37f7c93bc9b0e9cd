/*
 * simulation: a connector that pretends to work, for demos, tests and benchmarks.
 *
 * Payload (each key optional; the config gives the defaults):
 *   duration_ms  how long the job "runs" (integer, 0 .. 86,400,000; simulation_duration_ms)
 *   steps        progress updates spread over the duration (0 .. 10,000; simulation_steps)
 *   fail_rate    probability 0..1 of a retryable failure (simulation_fail_rate)
 *   fail         "retryable" or "permanent": fail that way every time
 *   result       returned as the job's result (default {"simulated": true, …})
 *   output       true: also stores a 1x1 PNG through the output store and lists it in the
 *                result's "outputs" (exercises the store end to end)
 *
 * A job of zero duration runs inline on the loop thread (runs_inline), which is the
 * benchmark path: no thread hand-off, no sleeping. Others sleep in slices of at most 50 ms
 * so a cancellation, timeout or shutdown stops them promptly.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp_json.h"
#include "wrk_connector.h"

#define SIM_MAX_DURATION_MS (86400LL * 1000)

/* The smallest valid PNG: one transparent pixel. */
static const unsigned char sim_png[] = {
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};

typedef struct {
    int64_t duration_ms;
    int steps;
    double fail_rate;
} sim_state;

static int sim_create(const wrk_connector_config *cfg, void **state, char *err, size_t errlen)
{
    sim_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SP_E_NOMEM;
    st->duration_ms = wrk_connector_config_int(cfg, "duration_ms", 0);
    st->steps = (int)wrk_connector_config_int(cfg, "steps", 0);
    const char *rate = wrk_connector_config_string(cfg, "fail_rate", "0");
    char *end;
    st->fail_rate = strtod(rate, &end);
    if (end == rate || *end != '\0' || !(st->fail_rate >= 0.0 && st->fail_rate <= 1.0)) {
        snprintf(err, errlen,
                 "invalid value for simulation_fail_rate: \"%s\" (a number from 0 to 1)", rate);
        free(st);
        return SP_E_INVAL;
    }
    *state = st;
    return 0;
}

static void sim_destroy(void *state)
{
    free(state);
}

static int sim_check(void *state, char *msg, size_t msglen)
{
    sim_state *st = state;
    snprintf(msg, msglen, "defaults: duration %lld ms, %d steps, fail rate %g",
             (long long)st->duration_ms, st->steps, st->fail_rate);
    return 0;
}

/* The job's duration: payload duration_ms, else the default; -1 when the payload's is bad. */
static int64_t sim_duration(const sim_state *st, const wrk_job *job)
{
    int64_t d;
    int rc = sp_json_get_int(job->payload, "duration_ms", &d);
    if (rc == SP_E_NOTFOUND)
        return st->duration_ms;
    if (rc < 0 || d < 0 || d > SIM_MAX_DURATION_MS)
        return -1;
    return d;
}

static int sim_runs_inline(void *state, const wrk_job *job)
{
    return sim_duration(state, job) == 0;
}

/* A per-thread random number in [0, 1). */
static double sim_random(void)
{
    static __thread uint64_t s;
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&s;
        if (s == 0)
            s = 88172645463325252ull;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

static void sim_stopped(wrk_job_ctx *ctx, wrk_result *res)
{
    if (wrk_job_stop_reason(ctx) == WRK_STOP_TIMEOUT) {
        res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(res->error, sizeof(res->error), "simulation timed out");
    } else {
        res->outcome = WRK_OUTCOME_CANCELLED;
        snprintf(res->error, sizeof(res->error), "simulation stopped");
    }
}

static void sim_run(void *state, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res)
{
    sim_state *st = state;
    int64_t steps = st->steps;
    double rate = st->fail_rate;
    const char *fail = NULL;
    json_object *given = NULL;

    int64_t duration = sim_duration(st, job);
    if (duration < 0) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error),
                 "payload.duration_ms must be an integer from 0 to %lld", SIM_MAX_DURATION_MS);
        return;
    }
    int rc = sp_json_get_int(job->payload, "steps", &steps);
    if ((rc < 0 && rc != SP_E_NOTFOUND) || steps < 0 || steps > 10000) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error),
                 "payload.steps must be an integer from 0 to 10000");
        return;
    }
    rc = sp_json_get_double(job->payload, "fail_rate", &rate);
    if ((rc < 0 && rc != SP_E_NOTFOUND) || !(rate >= 0.0 && rate <= 1.0)) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error), "payload.fail_rate must be a number from 0 to 1");
        return;
    }
    rc = sp_json_get_string(job->payload, "fail", &fail);
    if ((rc < 0 && rc != SP_E_NOTFOUND) ||
        (fail != NULL && strcmp(fail, "retryable") != 0 && strcmp(fail, "permanent") != 0)) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error),
                 "payload.fail must be \"retryable\" or \"permanent\"");
        return;
    }

    if (duration > 0) {
        int64_t nsteps = steps > 0 ? steps : 1;
        for (int64_t i = 1; i <= nsteps; i++) {
            /* Sleep this step's share, in slices short enough to notice a stop quickly. */
            int64_t until_ms = duration * i / nsteps, done_ms = duration * (i - 1) / nsteps;
            for (int64_t left = until_ms - done_ms; left > 0;) {
                if (wrk_job_should_stop(ctx)) {
                    sim_stopped(ctx, res);
                    return;
                }
                int64_t slice = left < 50 ? left : 50;
                struct timespec ts = {slice / 1000, (long)(slice % 1000) * 1000000};
                nanosleep(&ts, NULL);
                left -= slice;
            }
            if (steps > 0) {
                char msg[64];
                snprintf(msg, sizeof(msg), "step %lld/%lld", (long long)i, (long long)nsteps);
                wrk_job_progress(ctx, (int)(i * 100 / nsteps), msg);
            }
        }
    }
    if (wrk_job_should_stop(ctx)) {
        sim_stopped(ctx, res);
        return;
    }
    if (fail != NULL || (rate > 0.0 && sim_random() < rate)) {
        bool permanent = fail != NULL && strcmp(fail, "permanent") == 0;
        res->outcome = permanent ? WRK_OUTCOME_FAILED_PERMANENT : WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(res->error, sizeof(res->error), "simulated %s failure (attempt %d)",
                 permanent ? "permanent" : "retryable", job->attempt);
        return;
    }
    if (json_object_object_get_ex(job->payload, "result", &given)) {
        /* A copy: the result may get "outputs" below, the payload must not. */
        if (json_object_deep_copy(given, &res->result, NULL) != 0)
            res->result = NULL;
    } else {
        res->result = json_object_new_object();
        if (res->result != NULL) {
            json_object_object_add(res->result, "simulated", json_object_new_boolean(1));
            if (duration > 0)
                json_object_object_add(res->result, "duration_ms", json_object_new_int64(duration));
        }
    }
    bool want_output = false;
    if (sp_json_get_bool(job->payload, "output", &want_output) == 0 && want_output) {
        json_object *desc = NULL;
        if (wrk_job_store_output(ctx, sim_png, sizeof(sim_png), "pixel.png", NULL, &desc) < 0) {
            json_object_put(res->result);
            res->result = NULL;
            res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
            snprintf(res->error, sizeof(res->error), "could not store the output");
            return;
        }
        if (!json_object_is_type(res->result, json_type_object)) {
            json_object *wrap = json_object_new_object();
            json_object_object_add(wrap, "value", res->result);
            res->result = wrap;
        }
        json_object *outs = json_object_new_array();
        json_object_array_add(outs, desc);
        json_object_object_add(res->result, "outputs", outs);
    }
    res->outcome = WRK_OUTCOME_COMPLETED;
}

const wrk_connector_ops wrk_connector_simulation = {
    .name = "simulation",
    .create = sim_create,
    .destroy = sim_destroy,
    .models = NULL,
    .check = sim_check,
    .run = sim_run,
    .runs_inline = sim_runs_inline,
};
