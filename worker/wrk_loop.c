/*
 * wrk_loop: spool-worker's main loop (timers, signals, the connection, shutdown, creation
 * and --check); see wrk_loop.h for what it does, wrk_loop_jobs.c for the work on jobs and
 * wrk_loop_int.h for the ownership rules.
 */
#include "wrk_loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "sp_json.h"
#include "wrk_backoff.h"
#include "wrk_loop_int.h"
#include "wrk_registry.h"

static uint32_t loop_rand(wrk_loop *l)
{
    /* xorshift32: jitter only. */
    uint32_t x = l->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    l->rng = x;
    return x;
}

void wrk_loop_disconnect(wrk_loop *l, const char *what)
{
    char b[1100];
    if (l->connected)
        sp_log_warn("worker", "database_lost", "worker=%s during=%s error=%s", l->s->worker_id,
                    what, q(wrk_transport_error(l->tr), b, sizeof(b)));
    l->connected = false;
    l->reconnect_attempt = 0;
    l->reconnect_at = wrk_now_ms();
}

/* ---- connection --------------------------------------------------------------------------- */

static void try_connect(wrk_loop *l, int64_t now)
{
    char b[1100];
    int rc = wrk_transport_connect(l->tr);
    if (rc == 0)
        rc = wrk_transport_register(l->tr, l->s->worker_id, l->s->name, l->caps_json,
                                    l->metadata_json);
    if (rc < 0) {
        l->reconnect_attempt++;
        int64_t wait = wrk_backoff_ms(l->reconnect_attempt, RECONNECT_BASE_MS,
                                      l->s->reconnect_max_ms, loop_rand(l));
        l->reconnect_at = now + wait;
        sp_log_warn("worker", "database_unavailable",
                    "worker=%s attempt=%d retry_in_ms=%lld error=%s", l->s->worker_id,
                    l->reconnect_attempt, (long long)wait,
                    q(wrk_transport_error(l->tr), b, sizeof(b)));
        return;
    }
    l->connected = true;
    l->reconnect_attempt = 0;
    l->next_hb = now; /* learn at once which leases survived */
    for (size_t i = 0; i < l->nsvc; i++)
        l->svc[i].maybe_work = true;
    sp_log_info("worker", "connected", "worker=%s held=%d", l->s->worker_id, l->nheld);
}

/* ---- shutdown ----------------------------------------------------------------------------- */

static void begin_drain(wrk_loop *l, int64_t now)
{
    l->draining = true;
    l->drain_deadline = now + l->s->shutdown_grace_ms;
    int queued = 0;
    for (size_t i = 0; i < l->nsvc; i++) {
        wrk_rec *r = wrk_pool_take_queued(l->svc[i].pool);
        while (r != NULL) {
            wrk_rec *next = r->qnext;
            l->svc[i].busy--;
            wrk_loop_add_release(l, r);
            unhold_free(l, r);
            queued++;
            r = next;
        }
    }
    sp_log_info("worker", "shutdown_started",
                "worker=%s running=%d released_unstarted=%d grace_ms=%lld", l->s->worker_id,
                l->nheld, queued, (long long)l->s->shutdown_grace_ms);
}

static void hard_stop(wrk_loop *l, int64_t now)
{
    l->hard_stop = true;
    l->abort_deadline = now + ABORT_WAIT_MS;
    int n = 0;
    for (wrk_rec *r = l->held.next; r != &l->held; r = r->next) {
        if (r->state != WRK_REC_BUSY || r->released)
            continue;
        wrk_job_request_stop(&r->ctx, WRK_STOP_SHUTDOWN);
        if (!r->lease_lost)
            wrk_loop_add_release(l, r);
        r->released = true;
        n++;
    }
    sp_log_info("worker", "shutdown_releasing", "worker=%s running=%d", l->s->worker_id, n);
}

static void read_signals(wrk_loop *l, int64_t now)
{
    struct signalfd_siginfo si;
    while (read(l->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        l->signals++;
        if (!l->draining)
            begin_drain(l, now);
        else if (!l->hard_stop)
            hard_stop(l, now);
    }
}

/* ---- the loop ----------------------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int wrk_loop_run(wrk_loop *l)
{
    char summary[128], b[1100];
    int64_t now = wrk_now_ms();
    l->next_poll = now + l->s->poll_ms;
    l->next_progress = now + l->s->progress_ms;
    l->next_maintain = l->s->maintain_ms > 0 ? now + l->s->maintain_ms : INT64_MAX;
    l->reconnect_at = now;
    char caps[4096];
    sp_log_info("worker", "started",
                "worker=%s connectors=%s batch_size=%d lease_s=%d capabilities=%s", l->s->worker_id,
                q(sp_config_string(l->cfg, "connectors"), b, sizeof(b)), l->s->batch_size,
                l->s->lease_s, q(l->caps_json, caps, sizeof(caps)));

    for (;;) {
        now = wrk_now_ms();
        read_signals(l, now);
        wrk_loop_collect_done(l);
        if (l->draining && !l->hard_stop && now >= l->drain_deadline)
            hard_stop(l, now);
        if (l->draining && l->nheld == 0 && l->nreleases == 0)
            break;
        if (l->hard_stop && now >= l->abort_deadline) {
            if (l->nheld > 0 || l->nreleases > 0)
                sp_log_warn("worker", "shutdown_incomplete",
                            "worker=%s unreported=%d unreleased=%d", l->s->worker_id, l->nheld,
                            l->nreleases);
            break;
        }
        if (!l->connected && now >= l->reconnect_at)
            try_connect(l, now);

        bool more = false;
        int64_t next_deadline = wrk_loop_check_deadlines(l, now);
        if (now >= l->next_poll) {
            for (size_t i = 0; i < l->nsvc; i++)
                l->svc[i].maybe_work = true;
            l->next_poll = now + l->s->poll_ms;
        }
        if (l->connected) {
            wrk_loop_send_failures(l);
            wrk_loop_send_releases(l);
        }
        if (l->connected)
            more = wrk_loop_claim_round(l);
        if (l->connected && now >= l->next_hb) {
            wrk_loop_heartbeat(l);
            l->next_hb = now + l->s->heartbeat_ms;
        }
        if (l->connected && now >= l->next_progress) {
            wrk_loop_send_progress(l);
            l->next_progress = now + l->s->progress_ms;
        }
        if (l->connected && now >= l->next_maintain) {
            int rc = wrk_transport_maintain(l->tr, summary, sizeof(summary));
            if (rc == SP_E_CONN)
                wrk_loop_disconnect(l, "maintain");
            else if (rc < 0)
                sp_log_warn("worker", "maintain_failed", "worker=%s error=%s", l->s->worker_id,
                            q(wrk_transport_error(l->tr), b, sizeof(b)));
            else
                sp_log_debug("worker", "maintained", "worker=%s %s", l->s->worker_id, summary);
            l->next_maintain = now + l->s->maintain_ms;
        }

        /* A notification that arrived during one of the calls above was read off the socket
         * by libpq and queued: take it now, or poll() would sleep through it. */
        if (l->connected && !more) {
            bool work = false;
            if (wrk_transport_drain(l->tr, &work) < 0) {
                wrk_loop_disconnect(l, "listen");
            } else if (work) {
                for (size_t i = 0; i < l->nsvc; i++)
                    l->svc[i].maybe_work = true;
                more = true;
            }
        }

        /* Sleep until something happens or a timer is due. */
        int64_t until = min64(l->next_poll, next_deadline);
        if (l->connected) {
            until = min64(until, l->next_hb);
            if (l->nheld > 0)
                until = min64(until, l->next_progress);
            until = min64(until, l->next_maintain);
            if (l->failures.n > 0 || l->nreleases > 0 || l->completions.n > 0)
                more = true;
        } else {
            until = min64(until, l->reconnect_at);
        }
        if (l->draining)
            until = min64(until, l->hard_stop ? l->abort_deadline : l->drain_deadline);
        now = wrk_now_ms();
        int timeout = more ? 0 : (int)(until > now ? min64(until - now, 60000) : 0);
        struct pollfd pfd[3] = {
            {.fd = l->sig_fd, .events = POLLIN},
            {.fd = l->wake_fd, .events = POLLIN},
            {.fd = l->connected ? wrk_transport_fd(l->tr) : -1, .events = POLLIN}};
        int pr = poll(pfd, 3, timeout);
        if (pr < 0 && errno != EINTR) {
            sp_log_error("worker", "poll_failed", "error=%s", strerror(errno));
            return SP_E_IO;
        }
        if (pr > 0 && l->connected && (pfd[2].revents & (POLLIN | POLLERR | POLLHUP))) {
            bool work = false;
            if (wrk_transport_drain(l->tr, &work) < 0)
                wrk_loop_disconnect(l, "listen");
            else if (work)
                for (size_t i = 0; i < l->nsvc; i++)
                    l->svc[i].maybe_work = true;
        }
    }
    sp_log_info("worker", "stopped", "worker=%s", l->s->worker_id);
    return 0;
}

/* ---- creation ----------------------------------------------------------------------------- */

static int add_model(void *arg, const char *item)
{
    json_object *arr = arg;
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), item) == 0)
            return 0;
    return json_object_array_add(arr, json_object_new_string(item)) == 0 ? 0 : SP_E_NOMEM;
}

/* Models per service: what each connector reports plus the configured <name>_models list. */
static json_object *collect_models(wrk_loop *l)
{
    char key[64], err[512], b[600];
    json_object *models = json_object_new_object();
    for (size_t i = 0; i < l->nsvc && models != NULL; i++) {
        wrk_svc *v = &l->svc[i];
        json_object *arr = NULL;
        if (v->ops->models != NULL) {
            err[0] = '\0';
            if (v->ops->models(v->state, &arr, err, sizeof(err)) < 0 || arr == NULL ||
                !json_object_is_type(arr, json_type_array)) {
                sp_log_warn("worker", "models_unavailable", "connector=%s error=%s", v->name,
                            q(err, b, sizeof(b)));
                json_object_put(arr);
                arr = NULL;
            }
        }
        if (arr == NULL)
            arr = json_object_new_array();
        snprintf(key, sizeof(key), "%s_models", v->name);
        const char *list = sp_config_string(l->cfg, key);
        if (list != NULL && wrk_config_split_list(list, add_model, arr) < 0)
            sp_log_warn("worker", "models_ignored", "setting=%s reason=\"item too long\"", key);
        json_object_object_add(models, v->name, arr);
    }
    return models;
}

int wrk_loop_new(const sp_config *cfg, const wrk_settings *s, wrk_loop **out, char *err,
                 size_t errlen)
{
    int rc = 0;
    json_object *caps = NULL, *models = NULL, *meta = NULL;
    wrk_loop *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return SP_E_NOMEM;
    l->cfg = cfg;
    l->s = s;
    l->held.next = l->held.prev = &l->held;
    l->wake_fd = l->sig_fd = -1;
    pthread_mutex_init(&l->done_mu, NULL);
    l->rng = (uint32_t)time(NULL) ^ (uint32_t)getpid() * 2654435761u;
    if (l->rng == 0)
        l->rng = 1;

    for (size_t i = 0; i < s->nconnectors; i++) {
        wrk_svc *v = &l->svc[i];
        char why[512] = "";
        v->name = s->connectors[i];
        v->concurrency = s->concurrency[i];
        v->ops = wrk_registry_find(v->name);
        l->nsvc = i + 1;
        if (v->ops == NULL) {
            snprintf(err, errlen, "connector %s is not built into this spool-worker", v->name);
            rc = SP_E_NOTFOUND;
            goto out;
        }
        wrk_connector_config_init(&v->view, cfg, v->name);
        if ((rc = v->ops->create(&v->view, &v->state, why, sizeof(why))) < 0) {
            snprintf(err, errlen, "connector %s: %s", v->name, why[0] ? why : sp_err_str(rc));
            goto out;
        }
        if ((rc = wrk_pool_new(v->ops, v->state, v->concurrency, wrk_loop_on_done, l, &v->pool)) <
            0)
            goto out;
    }
    if ((rc = wrk_output_new(cfg, &l->store, err, errlen)) < 0)
        goto out;
    if ((rc = wrk_transport_pg_new(s->database_url, s->connect_timeout_s, &l->tr)) < 0)
        goto out;

    wrk_caps_detect(&l->hw, s->gpu_detect);
    models = collect_models(l);
    if ((rc = wrk_caps_build(s, &l->hw, models, &caps)) < 0) {
        snprintf(err, errlen, "could not build the capabilities: %s", sp_err_str(rc));
        goto out;
    }
    l->caps_json = strdup(json_object_to_json_string_ext(caps, JSON_C_TO_STRING_PLAIN));
    for (size_t i = 0; i < l->nsvc && l->caps_json != NULL; i++) {
        json_object *one = json_object_new_array();
        json_object_array_add(one, json_object_new_string(l->svc[i].name));
        json_object_object_add(caps, "services", one);
        l->svc[i].caps_json = strdup(json_object_to_json_string_ext(caps, JSON_C_TO_STRING_PLAIN));
        if (l->svc[i].caps_json == NULL)
            rc = SP_E_NOMEM;
    }
    meta = json_object_new_object();
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        host[0] = '\0';
    json_object_object_add(meta, "hostname", json_object_new_string(host));
    json_object_object_add(meta, "pid", json_object_new_int(getpid()));
    json_object_object_add(meta, "version", json_object_new_string(SPOOL_VERSION));
    json_object *conc = json_object_new_object();
    for (size_t i = 0; i < l->nsvc; i++)
        json_object_object_add(conc, l->svc[i].name, json_object_new_int(l->svc[i].concurrency));
    json_object_object_add(meta, "concurrency", conc);
    json_object_object_add(meta, "batch_size", json_object_new_int(s->batch_size));
    l->metadata_json = strdup(json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN));
    if (rc == 0 && (l->caps_json == NULL || l->metadata_json == NULL))
        rc = SP_E_NOMEM;
    if (rc < 0)
        goto out;

    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    l->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (l->wake_fd < 0 || l->sig_fd < 0) {
        snprintf(err, errlen, "could not create event descriptors: %s", strerror(errno));
        rc = SP_E_IO;
        goto out;
    }
out:
    json_object_put(caps);
    json_object_put(models);
    json_object_put(meta);
    if (rc < 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "could not start: %s", sp_err_str(rc));
        wrk_loop_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int wrk_loop_check(wrk_loop *l, FILE *out)
{
    char msg[1024];
    int bad = 0;
    fprintf(out, "spool-worker check (worker %s)\n", l->s->worker_id);
    fprintf(out, "  %-22s ok (%zu connectors, batch_size %d, lease %ds, heartbeat %lldms)\n",
            "configuration", l->nsvc, l->s->batch_size, l->s->lease_s,
            (long long)l->s->heartbeat_ms);
    int rc = wrk_transport_connect(l->tr);
    if (rc == 0) {
        wrk_stop_request *stops = NULL;
        int n = 0;
        rc = wrk_transport_heartbeat(l->tr, l->s->worker_id, NULL, 0, &stops, &n);
        free(stops);
    }
    if (rc == 0) {
        fprintf(out, "  %-22s ok (connected; the spool schema answers)\n", "database");
    } else {
        fprintf(out, "  %-22s FAIL %s\n", "database", wrk_transport_error(l->tr));
        bad++;
    }
    rc = wrk_output_check(l->store, msg, sizeof(msg));
    fprintf(out, "  %-22s %s %s\n", "output store", rc == 0 ? "ok" : "FAIL", msg);
    bad += rc != 0;
    for (size_t i = 0; i < l->nsvc; i++) {
        wrk_svc *v = &l->svc[i];
        char label[64];
        snprintf(label, sizeof(label), "connector %s", v->name);
        msg[0] = '\0';
        rc = v->ops->check != NULL ? v->ops->check(v->state, msg, sizeof(msg)) : 0;
        if (v->ops->check == NULL)
            snprintf(msg, sizeof(msg), "(nothing to check)");
        fprintf(out, "  %-22s %s %s (concurrency %d)\n", label, rc == 0 ? "ok" : "FAIL", msg,
                v->concurrency);
        bad += rc != 0;
    }
    fprintf(out, "capabilities: %s\n", l->caps_json);
    fprintf(out, "result: %s\n", bad == 0 ? "ok" : "problems found");
    return bad == 0 ? 0 : SP_E_CONN;
}

void wrk_loop_free(wrk_loop *l)
{
    if (l == NULL)
        return;
    bool all_stopped = true;
    for (size_t i = 0; i < l->nsvc; i++) {
        wrk_svc *v = &l->svc[i];
        if (v->pool != NULL && !wrk_pool_stop(v->pool, 1000)) {
            sp_log_warn("worker", "connector_busy_at_exit", "connector=%s", v->name);
            all_stopped = false;
        }
    }
    if (!all_stopped) {
        /* A job thread is still inside a connector and may yet hand its record back to the
         * loop or store an output: everything stays allocated until the process exits. */
        return;
    }
    for (size_t i = 0; i < l->nsvc; i++) {
        wrk_svc *v = &l->svc[i];
        wrk_pool_free(v->pool);
        if (v->state != NULL && v->ops != NULL && v->ops->destroy != NULL)
            v->ops->destroy(v->state);
        free(v->caps_json);
    }
    while (l->held.next != &l->held)
        unhold_free(l, l->held.next);
    wrk_transport_free(l->tr);
    wrk_output_free(l->store);
    free(l->caps_json);
    free(l->metadata_json);
    free(l->releases);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    if (l->sig_fd >= 0)
        close(l->sig_fd);
    pthread_mutex_destroy(&l->done_mu);
    free(l);
}
