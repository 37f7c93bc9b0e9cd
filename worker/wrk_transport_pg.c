/*
 * wrk_transport_pg: the direct PostgreSQL transport. One libpq session (common/sp_db) does
 * everything: the SQL functions of the core (spool.complete_and_claim on the hot path,
 * heartbeat, fail, release, progress, register_worker, maintain), always through
 * PQexecParams with parameters, and LISTEN spool_jobs on the same session, so the loop
 * poll()s its socket to wake when work arrives.
 *
 * complete_and_claim reports each refused completion as a WARNING with SQLSTATE SP410
 * ("completion of job <id> refused: …"); a notice handler collects those ids during the
 * call. Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_buf.h"
#include "sp_db.h"
#include "sp_json.h"
#include "sp_log.h"
#include "wrk_transport.h"

#define ARRAY_MAX ((size_t)1 << 30) /* bound of one array parameter */

typedef struct {
    wrk_transport base;
    sp_db *db;
    char *url;
    int connect_timeout_s;
    wrk_batch *collect; /* where refusals go during complete_and_claim, else NULL */
    sp_buf *ids, *tokens, *results;
    char err[1024];
} pg_transport;

void wrk_batch_clear(wrk_batch *b)
{
    if (b == NULL)
        return;
    for (int i = 0; i < b->njobs; i++) {
        free(b->jobs[i].type);
        free(b->jobs[i].service);
        json_object_put(b->jobs[i].payload);
    }
    free(b->jobs);
    free(b->refused);
    memset(b, 0, sizeof(*b));
}

/* Maps the last database error to the interface's codes and keeps its text. */
static int pg_error(pg_transport *t, int rc, const char *what)
{
    const char *state = sp_db_err_sqlstate(t->db);
    snprintf(t->err, sizeof(t->err), "%s: %s%s%s", what, sp_db_err_message(t->db),
             state[0] ? " (SQLSTATE " : "", state[0] ? state : "");
    if (state[0])
        strncat(t->err, ")", sizeof(t->err) - strlen(t->err) - 1);
    if (rc == SP_E_CONN)
        return SP_E_CONN;
    if (strcmp(state, "SP410") == 0)
        return SP_E_CONFLICT;
    if (strcmp(state, "SP404") == 0)
        return SP_E_NOTFOUND;
    /* Admin shutdown, crash recovery and the like leave a dead session behind. */
    if (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0)
        return SP_E_CONN;
    return rc == SP_E_NOMEM ? SP_E_NOMEM : SP_E_DB;
}

static void pg_notice(void *arg, const char *severity, const char *sqlstate, const char *message)
{
    pg_transport *t = arg;
    if (t->collect != NULL && strcmp(sqlstate, "SP410") == 0) {
        /* "completion of job <uuid> refused: lease is no longer current" */
        const char *p = strstr(message, "job ");
        wrk_batch *b = t->collect;
        if (p != NULL && strlen(p + 4) >= 36) {
            if (b->nrefused == b->cap_refused) {
                int cap = b->cap_refused ? b->cap_refused * 2 : 16;
                void *n = realloc(b->refused, (size_t)cap * sizeof(*b->refused));
                if (n == NULL)
                    return;
                b->refused = n;
                b->cap_refused = cap;
            }
            memcpy(b->refused[b->nrefused], p + 4, 36);
            b->refused[b->nrefused][36] = '\0';
            b->nrefused++;
            return;
        }
    }
    /* Anything else is worth a line: the default handler's format. */
    sp_log_level level = strcmp(severity, "WARNING") == 0 ? SP_LOG_WARN : SP_LOG_DEBUG;
    char quoted[512];
    sp_log_write(level, "db", "notice", "sqlstate=%s message=%s", sqlstate,
                 sp_log_quote(message, quoted, sizeof(quoted)));
}

static int pg_connect(wrk_transport *base)
{
    pg_transport *t = (pg_transport *)base;
    int rc = sp_db_connect(t->db, t->url, t->connect_timeout_s);
    if (rc < 0) {
        snprintf(t->err, sizeof(t->err), "could not connect: %s", sp_db_err_message(t->db));
        return SP_E_CONN;
    }
    sp_db_set_notice_handler(t->db, pg_notice, t);
    /* Wake on new work (spool.notify(true) sends on this channel). */
    rc = sp_db_exec_params(t->db, "LISTEN spool_jobs", 0, NULL, NULL);
    if (rc < 0)
        return pg_error(t, rc, "could not listen for work");
    return 0;
}

static int pg_fd(wrk_transport *base)
{
    return sp_db_socket(((pg_transport *)base)->db);
}

static int pg_drain(wrk_transport *base, bool *work)
{
    pg_transport *t = (pg_transport *)base;
    int n = 0;
    int rc = sp_db_notifications(t->db, &n);
    if (rc < 0) {
        snprintf(t->err, sizeof(t->err), "connection lost: %s", sp_db_err_message(t->db));
        return SP_E_CONN;
    }
    *work = n > 0;
    return 0;
}

static int pg_register(wrk_transport *base, const char *worker_id, const char *name,
                       const char *caps_json, const char *metadata_json)
{
    pg_transport *t = (pg_transport *)base;
    const char *params[] = {worker_id, caps_json, name, metadata_json};
    int rc = sp_db_exec_params(t->db,
                               "SELECT 1 FROM spool.register_worker(worker_id => $1, "
                               "capabilities => $2::jsonb, name => $3, transport => 'pg', "
                               "metadata => $4::jsonb)",
                               4, params, NULL);
    return rc < 0 ? pg_error(t, rc, "could not register the worker") : 0;
}

/* Appends one element to a PostgreSQL array literal: NULL, or a double-quoted string. */
static int array_add(sp_buf *b, const char *value)
{
    int rc = sp_buf_appends(b, sp_buf_len(b) > 1 ? "," : "");
    if (rc < 0)
        return rc;
    if (value == NULL)
        return sp_buf_appends(b, "NULL");
    if ((rc = sp_buf_appends(b, "\"")) < 0)
        return rc;
    const char *run = value;
    for (const char *p = value;; p++) {
        if (*p == '"' || *p == '\\' || *p == '\0') {
            if (p > run && (rc = sp_buf_append(b, run, (size_t)(p - run))) < 0)
                return rc;
            if (*p == '\0')
                break;
            char esc[2] = {'\\', *p};
            if ((rc = sp_buf_append(b, esc, 2)) < 0)
                return rc;
            run = p + 1;
        }
    }
    return sp_buf_appends(b, "\"");
}

/* Appends a uuid (no quoting needed). */
static int array_add_uuid(sp_buf *b, const char *uuid)
{
    int rc = sp_buf_appends(b, sp_buf_len(b) > 1 ? "," : "");
    return rc < 0 ? rc : sp_buf_appends(b, uuid);
}

static int parse_jobs(pg_transport *t, sp_db_res *res, wrk_batch *out)
{
    int n = sp_db_res_nrows(res);
    if (n == 0)
        return 0;
    out->jobs = calloc((size_t)n, sizeof(*out->jobs));
    if (out->jobs == NULL)
        return SP_E_NOMEM;
    for (int i = 0; i < n; i++) {
        wrk_claimed_job *j = &out->jobs[i];
        const char *id = sp_db_res_value(res, i, 0);
        const char *type = sp_db_res_value(res, i, 1);
        const char *attempts = sp_db_res_value(res, i, 2);
        const char *lease = sp_db_res_value(res, i, 3);
        const char *timeout = sp_db_res_value(res, i, 4);
        const char *payload = sp_db_res_value(res, i, 5);
        const char *service = sp_db_res_value(res, i, 6);
        if (id == NULL || lease == NULL || type == NULL || strlen(id) != 36 ||
            strlen(lease) != 36) {
            snprintf(t->err, sizeof(t->err), "claim returned a malformed row");
            return SP_E_DB;
        }
        memcpy(j->id, id, WRK_UUID_LEN);
        memcpy(j->lease, lease, WRK_UUID_LEN);
        j->type = strdup(type);
        j->service = service != NULL ? strdup(service) : NULL;
        j->attempt = attempts != NULL ? atoi(attempts) : 1;
        j->timeout_seconds = timeout != NULL ? atoi(timeout) : 0;
        j->payload = payload != NULL ? json_tokener_parse(payload) : NULL;
        if (j->payload == NULL || !json_object_is_type(j->payload, json_type_object)) {
            /* A payload that is not an object (allowed by the schema) is handed over as
             * {"value": …} so connectors always see an object. */
            json_object *wrapped = json_object_new_object();
            if (wrapped != NULL && j->payload != NULL)
                json_object_object_add(wrapped, "value", j->payload);
            j->payload = wrapped;
        }
        out->njobs = i + 1;
        if (j->type == NULL || j->payload == NULL || (service != NULL && j->service == NULL))
            return SP_E_NOMEM;
    }
    return 0;
}

static int pg_complete_and_claim(wrk_transport *base, const char *worker_id,
                                 const wrk_completion *c, int nc, const char *caps_json,
                                 int max_jobs, int lease_s, wrk_batch *out)
{
    pg_transport *t = (pg_transport *)base;
    sp_db_res *res = NULL;
    char maxs[16], leases[16];
    int rc = 0;
    bool any_result = false;
    memset(out, 0, sizeof(*out));
    sp_buf_reset(t->ids);
    sp_buf_reset(t->tokens);
    sp_buf_reset(t->results);
    if ((rc = sp_buf_appends(t->ids, "{")) < 0 || (rc = sp_buf_appends(t->tokens, "{")) < 0 ||
        (rc = sp_buf_appends(t->results, "{")) < 0)
        goto out;
    for (int i = 0; i < nc; i++) {
        if ((rc = array_add_uuid(t->ids, c[i].job_id)) < 0 ||
            (rc = array_add_uuid(t->tokens, c[i].lease)) < 0 ||
            (rc = array_add(t->results, c[i].result_json)) < 0)
            goto out;
        any_result = any_result || c[i].result_json != NULL;
    }
    if ((rc = sp_buf_appends(t->ids, "}")) < 0 || (rc = sp_buf_appends(t->tokens, "}")) < 0 ||
        (rc = sp_buf_appends(t->results, "}")) < 0)
        goto out;
    snprintf(maxs, sizeof(maxs), "%d", max_jobs);
    snprintf(leases, sizeof(leases), "%d", lease_s);
    const char *params[] = {worker_id,
                            sp_buf_data(t->ids),
                            sp_buf_data(t->tokens),
                            any_result ? sp_buf_data(t->results) : NULL,
                            caps_json,
                            maxs,
                            leases};
    t->collect = out;
    rc = sp_db_exec_params(t->db,
                           "SELECT id, type, attempts, lease_token, timeout_seconds, payload, "
                           "service_required FROM spool.complete_and_claim(worker_id => $1, "
                           "job_ids => $2::uuid[], lease_tokens => $3::uuid[], "
                           "results => $4::jsonb[], capabilities => $5::jsonb, "
                           "max_jobs => $6::integer, lease_seconds => $7::integer)",
                           7, params, &res);
    t->collect = NULL;
    if (rc < 0) {
        rc = pg_error(t, rc, nc > 0 ? "could not complete and claim" : "could not claim");
        goto out;
    }
    rc = parse_jobs(t, res, out);
out:
    if (rc == SP_E_RANGE)
        snprintf(t->err, sizeof(t->err), "completion batch too large");
    sp_db_res_free(res);
    return rc;
}

static int pg_fail(wrk_transport *base, const char *job_id, const char *lease, const char *error,
                   bool retryable)
{
    pg_transport *t = (pg_transport *)base;
    const char *params[] = {job_id, lease, error, retryable ? "true" : "false"};
    int rc = sp_db_exec_params(t->db,
                               "SELECT 1 FROM spool.fail(job_id => $1::uuid, lease_token => "
                               "$2::uuid, error => $3, retryable => $4::boolean)",
                               4, params, NULL);
    return rc < 0 ? pg_error(t, rc, "could not report the failure") : 0;
}

static int pg_release(wrk_transport *base, const char *job_id, const char *lease)
{
    pg_transport *t = (pg_transport *)base;
    const char *params[] = {job_id, lease};
    int rc = sp_db_exec_params(
        t->db, "SELECT 1 FROM spool.release(job_id => $1::uuid, lease_token => $2::uuid)", 2,
        params, NULL);
    return rc < 0 ? pg_error(t, rc, "could not release the job") : 0;
}

static int pg_heartbeat(wrk_transport *base, const char *worker_id, const char *const *leases,
                        int n, wrk_stop_request **stops, int *nstops)
{
    pg_transport *t = (pg_transport *)base;
    sp_db_res *res = NULL;
    int rc;
    *stops = NULL;
    *nstops = 0;
    sp_buf_reset(t->tokens);
    if ((rc = sp_buf_appends(t->tokens, "{")) < 0)
        return rc;
    for (int i = 0; i < n; i++)
        if ((rc = array_add_uuid(t->tokens, leases[i])) < 0)
            return rc;
    if ((rc = sp_buf_appends(t->tokens, "}")) < 0)
        return rc;
    const char *params[] = {worker_id, sp_buf_data(t->tokens)};
    rc = sp_db_exec_params(t->db,
                           "SELECT job_id, lease_token, reason FROM spool.heartbeat("
                           "worker_id => $1, lease_tokens => $2::uuid[])",
                           2, params, &res);
    if (rc < 0)
        return pg_error(t, rc, "could not heartbeat");
    int rows = sp_db_res_nrows(res);
    if (rows > 0) {
        *stops = calloc((size_t)rows, sizeof(**stops));
        if (*stops == NULL) {
            sp_db_res_free(res);
            return SP_E_NOMEM;
        }
        for (int i = 0; i < rows; i++) {
            wrk_stop_request *s = &(*stops)[i];
            const char *id = sp_db_res_value(res, i, 0);
            const char *tok = sp_db_res_value(res, i, 1);
            const char *reason = sp_db_res_value(res, i, 2);
            snprintf(s->job_id, sizeof(s->job_id), "%s", id ? id : "");
            snprintf(s->lease, sizeof(s->lease), "%s", tok ? tok : "");
            snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
            s->lease_lost = id == NULL || (reason != NULL && strcmp(reason, "lease lost") == 0);
        }
        *nstops = rows;
    }
    sp_db_res_free(res);
    return 0;
}

static int pg_progress(wrk_transport *base, const char *job_id, const char *lease, int percent,
                       const char *message)
{
    pg_transport *t = (pg_transport *)base;
    char pct[16];
    snprintf(pct, sizeof(pct), "%d", percent);
    const char *params[] = {job_id, lease, pct, message};
    int rc = sp_db_exec_params(t->db,
                               "SELECT 1 FROM spool.progress(job_id => $1::uuid, lease_token => "
                               "$2::uuid, progress => $3::integer, message => $4)",
                               4, params, NULL);
    return rc < 0 ? pg_error(t, rc, "could not report progress") : 0;
}

static int pg_maintain(wrk_transport *base, char *summary, size_t len)
{
    pg_transport *t = (pg_transport *)base;
    sp_db_res *res = NULL;
    int rc = sp_db_exec_params(t->db, "SELECT promoted, rescued, pruned FROM spool.maintain()", 0,
                               NULL, &res);
    if (rc < 0)
        return pg_error(t, rc, "could not run maintenance");
    if (sp_db_res_nrows(res) == 1) {
        const char *p = sp_db_res_value(res, 0, 0), *r = sp_db_res_value(res, 0, 1),
                   *d = sp_db_res_value(res, 0, 2);
        snprintf(summary, len, "promoted=%s rescued=%s pruned=%s", p ? p : "0", r ? r : "0",
                 d ? d : "0");
    }
    sp_db_res_free(res);
    return 0;
}

static const char *pg_err(wrk_transport *base)
{
    return ((pg_transport *)base)->err;
}

static void pg_free(wrk_transport *base)
{
    pg_transport *t = (pg_transport *)base;
    sp_db_free(t->db);
    sp_buf_free(t->ids);
    sp_buf_free(t->tokens);
    sp_buf_free(t->results);
    free(t->url);
    free(t);
}

static const wrk_transport_ops pg_ops = {
    .name = "pg",
    .connect = pg_connect,
    .fd = pg_fd,
    .drain = pg_drain,
    .register_worker = pg_register,
    .complete_and_claim = pg_complete_and_claim,
    .fail = pg_fail,
    .release = pg_release,
    .heartbeat = pg_heartbeat,
    .progress = pg_progress,
    .maintain = pg_maintain,
    .error = pg_err,
    .free = pg_free,
};

int wrk_transport_pg_new(const char *url, int connect_timeout_s, wrk_transport **out)
{
    pg_transport *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SP_E_NOMEM;
    t->base.ops = &pg_ops;
    t->connect_timeout_s = connect_timeout_s;
    t->url = strdup(url);
    if (t->url == NULL || sp_db_new(&t->db) < 0 || sp_buf_new(&t->ids, ARRAY_MAX) < 0 ||
        sp_buf_new(&t->tokens, ARRAY_MAX) < 0 || sp_buf_new(&t->results, ARRAY_MAX) < 0) {
        pg_free(&t->base);
        return SP_E_NOMEM;
    }
    *out = &t->base;
    return 0;
}
