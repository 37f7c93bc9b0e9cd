/* wrk_loop_jobs: the loop's work on jobs: claiming (spool.complete_and_claim), running on
 * the loop thread or handing to job threads, finishing, reporting failures and releases,
 * heartbeats, progress and deadlines. See wrk_loop_int.h for the ownership rules. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wrk_loop_int.h"

void wrk_loop_add_release(wrk_loop *l, const wrk_rec *r)
{
    if (l->nreleases == l->cap_releases) {
        int cap = l->cap_releases ? l->cap_releases * 2 : 64;
        wrk_release *n = realloc(l->releases, (size_t)cap * sizeof(*n));
        if (n == NULL) {
            sp_log_error("worker", "release_dropped", "job=%s reason=\"out of memory\"", r->id);
            return;
        }
        l->releases = n;
        l->cap_releases = cap;
    }
    wrk_release *x = &l->releases[l->nreleases++];
    memcpy(x->id, r->id, sizeof(x->id));
    memcpy(x->lease, r->lease, sizeof(x->lease));
    x->attempt = r->job.attempt;
}

/* ---- job outcomes ------------------------------------------------------------------------- */

/* Called by job threads. */
void wrk_loop_on_done(void *arg, wrk_rec *rec)
{
    wrk_loop *l = arg;
    pthread_mutex_lock(&l->done_mu);
    bool was_empty = l->done.head == NULL;
    list_push(&l->done, rec);
    pthread_mutex_unlock(&l->done_mu);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(l->wake_fd, &one, sizeof(one));
        (void)w; /* an eventfd write only fails when the counter would overflow */
    }
}

/* A job's run is over: decides how to report it. */
void wrk_loop_finish(wrk_loop *l, wrk_rec *r)
{
    char b[1100];
    r->state = WRK_REC_DONE;
    if (r->released || r->lease_lost) {
        sp_log_info("worker", "job_dropped", "job=%s attempt=%d worker=%s reason=%s", r->id,
                    r->job.attempt, l->s->worker_id,
                    r->released ? "released" : "\"lease lost: the outcome is not reported\"");
        json_object_put(r->res.result);
        r->res.result = NULL;
        unhold_free(l, r);
        return;
    }
    wrk_stop_reason stop = wrk_job_stop_reason(&r->ctx);
    wrk_outcome out = r->res.outcome;
    if (out == WRK_OUTCOME_COMPLETED) {
        if (r->res.result != NULL) {
            const char *text = json_object_to_json_string_ext(
                r->res.result, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            r->result_text = text != NULL ? strdup(text) : NULL;
            json_object_put(r->res.result);
            r->res.result = NULL;
            if (r->result_text == NULL) {
                out = WRK_OUTCOME_FAILED_RETRYABLE;
                snprintf(r->res.error, sizeof(r->res.error), "out of memory storing the result");
            }
        }
        if (out == WRK_OUTCOME_COMPLETED) {
            list_push(&l->completions, r);
            return;
        }
    }
    json_object_put(r->res.result);
    r->res.result = NULL;
    if (stop == WRK_STOP_TIMEOUT || r->timed_out) {
        r->res.outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(r->res.error, sizeof(r->res.error), "timed out after %d seconds",
                 r->job.timeout_seconds);
    } else if (r->cancel_requested) {
        r->res.outcome = WRK_OUTCOME_CANCELLED;
    } else if (stop == WRK_STOP_SHUTDOWN) {
        wrk_loop_add_release(l, r);
        unhold_free(l, r);
        return;
    } else if (out == WRK_OUTCOME_CANCELLED) {
        /* The connector stopped with nobody asking: count it as a failed attempt. */
        r->res.outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        if (r->res.error[0] == '\0')
            snprintf(r->res.error, sizeof(r->res.error), "the connector stopped the job");
    } else {
        r->res.outcome = out;
    }
    if (r->res.error[0] == '\0')
        snprintf(r->res.error, sizeof(r->res.error), "failed (no message from the connector)");
    sp_log_debug("worker", "job_finished", "job=%s attempt=%d worker=%s outcome=%d error=%s", r->id,
                 r->job.attempt, l->s->worker_id, (int)r->res.outcome,
                 q(r->res.error, b, sizeof(b)));
    list_push(&l->failures, r);
}

void wrk_loop_collect_done(wrk_loop *l)
{
    uint64_t v;
    ssize_t rd = read(l->wake_fd, &v, sizeof(v));
    (void)rd;
    pthread_mutex_lock(&l->done_mu);
    rec_list done = l->done;
    memset(&l->done, 0, sizeof(l->done));
    pthread_mutex_unlock(&l->done_mu);
    wrk_rec *r;
    while ((r = list_pop(&done)) != NULL) {
        l->svc[r->conn].busy--;
        wrk_loop_finish(l, r);
    }
}

wrk_rec *wrk_loop_find_rec(wrk_loop *l, const char *lease, const char *job_id)
{
    for (wrk_rec *r = l->held.next; r != &l->held; r = r->next)
        if ((lease[0] && strcmp(r->lease, lease) == 0) || (job_id[0] && strcmp(r->id, job_id) == 0))
            return r;
    return NULL;
}

void wrk_loop_mark_lease_lost(wrk_loop *l, wrk_rec *r, const char *why)
{
    if (r->lease_lost)
        return;
    r->lease_lost = true;
    wrk_job_request_stop(&r->ctx, WRK_STOP_CANCELLED);
    char b[600];
    sp_log_warn("worker", "lease_lost", "job=%s attempt=%d worker=%s detail=%s", r->id,
                r->job.attempt, l->s->worker_id, q(why, b, sizeof(b)));
}

/* ---- reporting ---------------------------------------------------------------------------- */

void wrk_loop_send_failures(wrk_loop *l)
{
    char b[1100], e[1100];
    wrk_rec *r;
    while (l->connected && (r = l->failures.head) != NULL) {
        if (r->lease_lost) {
            list_pop(&l->failures);
            sp_log_info("worker", "job_dropped", "job=%s attempt=%d worker=%s reason=%s", r->id,
                        r->job.attempt, l->s->worker_id,
                        "\"lease lost: the failure is not reported\"");
            unhold_free(l, r);
            continue;
        }
        bool cancelled = r->res.outcome == WRK_OUTCOME_CANCELLED;
        bool retryable = r->res.outcome == WRK_OUTCOME_FAILED_RETRYABLE;
        const char *msg = r->res.error;
        char cmsg[600];
        if (cancelled) {
            snprintf(cmsg, sizeof(cmsg), "cancelled: %s", r->cancel_reason);
            msg = cmsg;
        }
        int rc = wrk_transport_fail(l->tr, r->id, r->lease, msg, retryable);
        if (rc == SP_E_CONN) {
            wrk_loop_disconnect(l, "fail");
            return;
        }
        list_pop(&l->failures);
        if (rc == SP_E_CONFLICT) {
            sp_log_warn("worker", "failure_refused",
                        "job=%s attempt=%d worker=%s reason=\"lease lost: the job was rescued, "
                        "claimed again or ended\" detail=%s",
                        r->id, r->job.attempt, l->s->worker_id,
                        q(wrk_transport_error(l->tr), b, sizeof(b)));
        } else if (rc < 0) {
            sp_log_error("worker", "failure_not_reported", "job=%s attempt=%d worker=%s error=%s",
                         r->id, r->job.attempt, l->s->worker_id,
                         q(wrk_transport_error(l->tr), b, sizeof(b)));
        } else if (cancelled) {
            sp_log_info("worker", "job_cancelled", "job=%s attempt=%d worker=%s type=%s reason=%s",
                        r->id, r->job.attempt, l->s->worker_id, r->type,
                        q(r->cancel_reason, b, sizeof(b)));
        } else {
            sp_log_warn("worker", "job_failed",
                        "job=%s attempt=%d worker=%s type=%s retryable=%s error=%s", r->id,
                        r->job.attempt, l->s->worker_id, r->type, retryable ? "true" : "false",
                        q(msg, e, sizeof(e)));
        }
        unhold_free(l, r);
    }
}

void wrk_loop_send_releases(wrk_loop *l)
{
    char b[1100];
    int done = 0;
    for (; l->connected && done < l->nreleases; done++) {
        wrk_release *x = &l->releases[done];
        int rc = wrk_transport_release(l->tr, x->id, x->lease);
        if (rc == SP_E_CONN) {
            wrk_loop_disconnect(l, "release");
            break;
        }
        if (rc < 0)
            sp_log_warn("worker", "release_refused", "job=%s attempt=%d worker=%s error=%s", x->id,
                        x->attempt, l->s->worker_id, q(wrk_transport_error(l->tr), b, sizeof(b)));
        else
            sp_log_info("worker", "job_released", "job=%s attempt=%d worker=%s", x->id, x->attempt,
                        l->s->worker_id);
    }
    if (done > 0) {
        memmove(l->releases, l->releases + done,
                (size_t)(l->nreleases - done) * sizeof(*l->releases));
        l->nreleases -= done;
    }
}

/* ---- claiming ----------------------------------------------------------------------------- */

static int svc_for(wrk_loop *l, const char *service)
{
    const char *name = service != NULL ? service : l->s->default_connector;
    for (size_t i = 0; i < l->nsvc; i++)
        if (strcmp(l->svc[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* How many jobs to claim for svc now (0: none). */
static int claim_size(wrk_loop *l, const wrk_svc *v)
{
    if (!v->maybe_work || l->draining)
        return 0;
    if (v->last_all_inline && v->busy == 0)
        return l->s->batch_size;
    int free_slots = v->concurrency - v->busy;
    return free_slots < l->s->batch_size ? (free_slots > 0 ? free_slots : 0) : l->s->batch_size;
}

/* Takes over the jobs of one claimed batch. */
static void start_jobs(wrk_loop *l, int si, wrk_batch *b, int64_t claimed_ms)
{
    char e[1100];
    bool all_inline = b->njobs > 0;
    for (int i = 0; i < b->njobs; i++) {
        wrk_claimed_job *cj = &b->jobs[i];
        int ci = svc_for(l, cj->service);
        wrk_rec *r = NULL;
        if (wrk_rec_new(cj, l->s->worker_id, ci >= 0 ? ci : si, claimed_ms, l->store, &r) < 0) {
            /* Not even memory for the record: its lease expires and it is rescued. */
            sp_log_error("worker", "job_not_started", "job=%s reason=\"out of memory\"", cj->id);
            all_inline = false;
            continue;
        }
        hold(l, r);
        if (ci < 0) {
            /* claim() only hands out services this worker offers; defensive. */
            r->state = WRK_REC_DONE;
            r->res.outcome = WRK_OUTCOME_FAILED_RETRYABLE;
            snprintf(r->res.error, sizeof(r->res.error), "worker %s has no connector for %s",
                     l->s->worker_id, cj->service);
            list_push(&l->failures, r);
            all_inline = false;
            continue;
        }
        wrk_svc *v = &l->svc[ci];
        sp_log_debug("worker", "job_started", "job=%s attempt=%d worker=%s type=%s connector=%s",
                     r->id, r->job.attempt, l->s->worker_id, r->type, v->name);
        if (v->ops->runs_inline != NULL && v->ops->runs_inline(v->state, &r->job)) {
            wrk_pool_run_one(v->ops, v->state, r);
            wrk_loop_finish(l, r);
            continue;
        }
        all_inline = false;
        v->busy++;
        if (wrk_pool_submit(v->pool, r) < 0) {
            v->busy--;
            r->res.outcome = WRK_OUTCOME_FAILED_RETRYABLE;
            snprintf(r->res.error, sizeof(r->res.error), "could not start a job thread");
            sp_log_error("worker", "job_not_started", "job=%s worker=%s error=%s", r->id,
                         l->s->worker_id, q(r->res.error, e, sizeof(e)));
            wrk_loop_finish(l, r);
        }
    }
    l->svc[si].last_all_inline = all_inline;
}

/* Logs the completions of one call: refused ones plainly, then frees every sent record. */
static void settle_completions(wrk_loop *l, wrk_rec **sent, int n, const wrk_batch *b)
{
    for (int i = 0; i < n; i++) {
        wrk_rec *r = sent[i];
        bool refused = false;
        for (int k = 0; k < b->nrefused && !refused; k++)
            refused = strcmp(b->refused[k], r->id) == 0;
        if (refused)
            sp_log_warn("worker", "completion_refused",
                        "job=%s attempt=%d worker=%s type=%s reason=\"lease lost: the job was "
                        "rescued, claimed again or ended; this result is dropped\"",
                        r->id, r->job.attempt, l->s->worker_id, r->type);
        else
            sp_log_info("worker", "job_completed", "job=%s attempt=%d worker=%s type=%s ms=%lld",
                        r->id, r->job.attempt, l->s->worker_id, r->type,
                        (long long)(wrk_now_ms() - r->claimed_ms));
        unhold_free(l, r);
    }
}

/* Retries the completions of a call the database refused as a whole, one by one, so that one
 * result it cannot store (e.g. JSON with \u0000) does not hold the others back. */
static void complete_one_by_one(wrk_loop *l, wrk_rec **sent, int n)
{
    char b[1100];
    for (int i = 0; i < n && l->connected; i++) {
        wrk_rec *r = sent[i];
        wrk_completion c = {r->id, r->lease, r->result_text};
        wrk_batch one = {0};
        int rc = wrk_transport_complete_and_claim(l->tr, l->s->worker_id, &c, 1, l->caps_json, 0,
                                                  l->s->lease_s, &one);
        if (rc == SP_E_CONN) {
            wrk_batch_clear(&one);
            /* This one and the rest go back to the front of the list. */
            for (int k = n - 1; k >= i; k--) {
                sent[k]->qnext = l->completions.head;
                l->completions.head = sent[k];
                if (l->completions.tail == NULL)
                    l->completions.tail = sent[k];
                l->completions.n++;
            }
            wrk_loop_disconnect(l, "complete");
            return;
        }
        if (rc < 0) {
            sp_log_error("worker", "result_not_stored", "job=%s attempt=%d worker=%s error=%s",
                         r->id, r->job.attempt, l->s->worker_id,
                         q(wrk_transport_error(l->tr), b, sizeof(b)));
            r->res.outcome = WRK_OUTCOME_FAILED_PERMANENT;
            snprintf(r->res.error, sizeof(r->res.error), "could not store the result: %.900s",
                     wrk_transport_error(l->tr));
            list_push(&l->failures, r);
        } else {
            settle_completions(l, &r, 1, &one);
        }
        wrk_batch_clear(&one);
    }
}

/* One round of complete-and-claim calls. Returns true when there is more to do at once. */
bool wrk_loop_claim_round(wrk_loop *l)
{
    char b[1100];
    int nsent = 0;
    size_t bytes = 0;
    int maxc = l->s->batch_size > 1000 ? l->s->batch_size : 1000;
    wrk_rec **sent = NULL;
    wrk_completion *comps = NULL;
    bool more = false;

    /* Completions of jobs whose lease is known lost are dropped, not sent. */
    if (l->completions.n > 0) {
        int cap = l->completions.n < maxc ? l->completions.n : maxc;
        sent = malloc((size_t)cap * sizeof(*sent));
        comps = malloc((size_t)cap * sizeof(*comps));
        if (sent == NULL || comps == NULL)
            goto out;
        while (nsent < cap && bytes < MAX_COMPLETION_BYTES && l->completions.head != NULL) {
            wrk_rec *r = list_pop(&l->completions);
            if (r->lease_lost) {
                sp_log_info("worker", "job_dropped", "job=%s attempt=%d worker=%s reason=%s", r->id,
                            r->job.attempt, l->s->worker_id,
                            "\"lease lost: the result is not reported\"");
                unhold_free(l, r);
                continue;
            }
            comps[nsent] = (wrk_completion){r->id, r->lease, r->result_text};
            bytes += r->result_text != NULL ? strlen(r->result_text) : 0;
            sent[nsent++] = r;
        }
        more = l->completions.n > 0;
    }

    /* Which connectors claim this round, round-robin so none is always last. */
    int order[WRK_MAX_CONNECTORS], want[WRK_MAX_CONNECTORS], nclaim = 0;
    for (size_t k = 0; k < l->nsvc; k++) {
        int i = (int)((l->rr + k) % l->nsvc);
        int n = claim_size(l, &l->svc[i]);
        if (n > 0) {
            order[nclaim] = i;
            want[nclaim++] = n;
        }
    }
    l->rr++;
    if (nsent == 0 && nclaim == 0)
        goto out;

    for (int k = 0; k < (nclaim > 0 ? nclaim : 1) && l->connected; k++) {
        wrk_batch batch = {0};
        int si = nclaim > 0 ? order[k] : -1;
        int n = nclaim > 0 ? want[k] : 0;
        int nc = k == 0 ? nsent : 0;
        int64_t t0 = wrk_now_ms();
        int rc = wrk_transport_complete_and_claim(l->tr, l->s->worker_id, comps, nc,
                                                  si >= 0 ? l->svc[si].caps_json : l->caps_json, n,
                                                  l->s->lease_s, &batch);
        if (rc == SP_E_CONN) {
            wrk_batch_clear(&batch);
            /* Unsent completions go back to the front, in order. */
            for (int j = nc - 1; j >= 0; j--) {
                sent[j]->qnext = l->completions.head;
                l->completions.head = sent[j];
                if (l->completions.tail == NULL)
                    l->completions.tail = sent[j];
                l->completions.n++;
            }
            nsent = 0;
            wrk_loop_disconnect(l, nc > 0 ? "complete_and_claim" : "claim");
            break;
        }
        if (rc < 0) {
            wrk_batch_clear(&batch);
            sp_log_error("worker", nc > 0 ? "complete_failed" : "claim_failed",
                         "worker=%s error=%s", l->s->worker_id,
                         q(wrk_transport_error(l->tr), b, sizeof(b)));
            if (si >= 0)
                l->svc[si].maybe_work = false; /* try again at the next poll */
            if (nc > 0) {
                int cnt = nsent;
                nsent = 0;
                complete_one_by_one(l, sent, cnt);
            }
            continue;
        }
        if (nc > 0) {
            settle_completions(l, sent, nc, &batch);
            nsent = 0;
        }
        if (si >= 0) {
            start_jobs(l, si, &batch, t0);
            l->svc[si].maybe_work = batch.njobs >= n;
            more = more || l->svc[si].maybe_work || l->completions.n > 0;
        }
        wrk_batch_clear(&batch);
    }
out:
    free(sent);
    free(comps);
    return more;
}

/* ---- heartbeat, progress, deadlines ------------------------------------------------------- */

void wrk_loop_heartbeat(wrk_loop *l)
{
    char b[1100];
    const char **tokens = NULL;
    wrk_stop_request *stops = NULL;
    int n = 0, nstops = 0;
    if (l->nheld > 0) {
        tokens = malloc((size_t)l->nheld * sizeof(*tokens));
        if (tokens == NULL)
            return;
        for (wrk_rec *r = l->held.next; r != &l->held; r = r->next)
            if (!r->lease_lost && !r->released)
                tokens[n++] = r->lease;
    }
    int rc = wrk_transport_heartbeat(l->tr, l->s->worker_id, tokens, n, &stops, &nstops);
    free(tokens);
    if (rc == SP_E_CONN) {
        wrk_loop_disconnect(l, "heartbeat");
        return;
    }
    if (rc < 0) {
        sp_log_error("worker", "heartbeat_failed", "worker=%s error=%s", l->s->worker_id,
                     q(wrk_transport_error(l->tr), b, sizeof(b)));
        return;
    }
    for (int i = 0; i < nstops; i++) {
        wrk_stop_request *s = &stops[i];
        wrk_rec *r = wrk_loop_find_rec(l, s->lease, s->lease_lost ? "" : s->job_id);
        if (r == NULL)
            continue;
        if (s->lease_lost) {
            wrk_loop_mark_lease_lost(l, r,
                                     "heartbeat: the lease is no longer current (rescued after "
                                     "it expired, claimed again, or the job ended)");
        } else if (!r->cancel_requested) {
            r->cancel_requested = true;
            snprintf(r->cancel_reason, sizeof(r->cancel_reason), "%s", s->reason);
            wrk_job_request_stop(&r->ctx, WRK_STOP_CANCELLED);
            sp_log_info("worker", "cancel_requested", "job=%s attempt=%d worker=%s reason=%s",
                        r->id, r->job.attempt, l->s->worker_id, q(s->reason, b, sizeof(b)));
        }
    }
    free(stops);
}

void wrk_loop_send_progress(wrk_loop *l)
{
    char b[1100], msg[512];
    for (wrk_rec *r = l->held.next; r != &l->held && l->connected; r = r->next) {
        int pct;
        bool has_msg;
        if (r->state != WRK_REC_BUSY || r->lease_lost || r->released ||
            !wrk_job_take_progress(&r->ctx, &pct, msg, sizeof(msg), &has_msg))
            continue;
        int rc = wrk_transport_progress(l->tr, r->id, r->lease, pct, has_msg ? msg : NULL);
        if (rc == SP_E_CONN)
            wrk_loop_disconnect(l, "progress");
        else if (rc == SP_E_CONFLICT)
            wrk_loop_mark_lease_lost(l, r, wrk_transport_error(l->tr));
        else if (rc < 0)
            sp_log_warn("worker", "progress_failed", "job=%s worker=%s error=%s", r->id,
                        l->s->worker_id, q(wrk_transport_error(l->tr), b, sizeof(b)));
    }
}

/* Stops jobs past their timeout; returns the earliest deadline still ahead. */
int64_t wrk_loop_check_deadlines(wrk_loop *l, int64_t now)
{
    int64_t next = INT64_MAX;
    for (wrk_rec *r = l->held.next; r != &l->held; r = r->next) {
        if (r->state != WRK_REC_BUSY || r->timed_out)
            continue;
        if (now >= r->deadline_ms) {
            r->timed_out = true;
            wrk_job_request_stop(&r->ctx, WRK_STOP_TIMEOUT);
            sp_log_warn("worker", "job_timeout", "job=%s attempt=%d worker=%s timeout_s=%d", r->id,
                        r->job.attempt, l->s->worker_id, r->job.timeout_seconds);
        } else if (r->deadline_ms < next) {
            next = r->deadline_ms;
        }
    }
    return next;
}
