/*
 * srv_auth: token authentication with a small cache and token buckets (see srv_auth.h).
 */
#include "srv_auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sp_log.h"
#include "sp_token.h"
#include "srv_pool.h"
#include "srv_ratelimit.h"

#define AUTH_SLOTS 4096

typedef struct {
    char hash[65]; /* empty: free slot */
    bool valid;    /* false: a cached "no such token" */
    char role[16];
    char tenant[201];
    char id[40];
    int64_t expires_us;
    srv_ratelimit_bucket bucket;
} auth_slot;

struct srv_auth {
    pthread_mutex_t mu;
    bool enabled;
    int64_t cache_us;
    double rate, burst;
    auth_slot slots[AUTH_SLOTS];
};

int srv_auth_new(srv_auth **out, bool enabled, int cache_ms, int rate_per_s, int burst)
{
    srv_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return SP_E_NOMEM;
    pthread_mutex_init(&a->mu, NULL);
    a->enabled = enabled;
    a->cache_us = (int64_t)cache_ms * 1000;
    a->rate = rate_per_s;
    a->burst = burst;
    *out = a;
    return 0;
}

void srv_auth_free(srv_auth *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static unsigned slot_index(const char *hash)
{
    return (unsigned)strtoul(
               (char[9]){hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7], 0},
               NULL, 16) %
           AUTH_SLOTS;
}

/* Looks the hash up in the database; fills slot (valid or not). 0, or a pool/db error. */
static int lookup(srv_req *req, const char *hash, auth_slot *slot)
{
    sp_db *db = NULL;
    sp_db_res *res = NULL;
    int rc = srv_pool_get(req->srv->pool, &db);
    if (rc != 0)
        return rc;
    const char *params[] = {hash};
    rc = sp_db_exec_params(db, "SELECT id, role, tenant FROM spool.token_lookup($1)", 1, params,
                           &res);
    srv_pool_put(req->srv->pool, db, rc == SP_E_CONN);
    if (rc != 0)
        return rc;
    memset(slot, 0, sizeof *slot);
    memcpy(slot->hash, hash, 65);
    if (sp_db_res_nrows(res) == 1) {
        slot->valid = true;
        snprintf(slot->id, sizeof slot->id, "%s", sp_db_res_value(res, 0, 0));
        snprintf(slot->role, sizeof slot->role, "%s", sp_db_res_value(res, 0, 1));
        const char *t = sp_db_res_value(res, 0, 2);
        snprintf(slot->tenant, sizeof slot->tenant, "%s", t ? t : "");
    }
    sp_db_res_free(res);
    return 0;
}

static bool role_allows(const char *role, srv_auth_need need)
{
    if (strcmp(role, "admin") == 0)
        return true;
    if (need == SRV_AUTH_READ)
        return true;
    if (need == SRV_AUTH_SUBMIT)
        return strcmp(role, "client") == 0;
    return false;
}

bool srv_auth_check(srv_auth *a, srv_req *req, srv_auth_need need, enum MHD_Result *ret)
{
    if (need == SRV_AUTH_NONE)
        return true;
    if (!a->enabled) {
        snprintf(req->role, sizeof req->role, "admin");
        req->tenant[0] = '\0';
        return true;
    }
    const char *h = srv_header(req, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        *ret = srv_reply_error(req, 401, "unauthorized",
                               "an Authorization: Bearer <token> header is required", NULL);
        return false;
    }
    char hash[65];
    sp_token_hash(h + 7, hash);
    unsigned i = slot_index(hash);
    int64_t now = srv_now_us();
    auth_slot s;

    pthread_mutex_lock(&a->mu);
    bool hit = strcmp(a->slots[i].hash, hash) == 0 && a->slots[i].expires_us > now;
    if (hit)
        s = a->slots[i];
    pthread_mutex_unlock(&a->mu);
    if (!hit) {
        int rc = lookup(req, hash, &s);
        if (rc != 0) {
            *ret = srv_reply_unavailable(req, rc == SP_E_RANGE ? SP_E_RANGE : SP_E_CONN);
            return false;
        }
        s.expires_us = now + a->cache_us;
        srv_ratelimit_init(&s.bucket, a->burst, now);
        pthread_mutex_lock(&a->mu);
        if (strcmp(a->slots[i].hash, hash) == 0) {
            /* Keep the bucket of the entry being refreshed: refreshing must not refill it. */
            s.bucket = a->slots[i].bucket;
        }
        a->slots[i] = s;
        pthread_mutex_unlock(&a->mu);
    }
    if (!s.valid) {
        *ret = srv_reply_error(req, 401, "unauthorized", "unknown or revoked token", NULL);
        return false;
    }
    if (a->rate > 0) {
        bool limited = false;
        int ra = 1;
        pthread_mutex_lock(&a->mu);
        auth_slot *live = &a->slots[i];
        if (strcmp(live->hash, hash) == 0)
            limited = !srv_ratelimit_take(&live->bucket, a->rate, a->burst, now, &ra);
        pthread_mutex_unlock(&a->mu);
        if (limited) {
            *ret = srv_reply_error_retry(req, 429, "rate_limited",
                                         "too many requests for this token; slow down", ra);
            return false;
        }
    }
    snprintf(req->role, sizeof req->role, "%s", s.role);
    snprintf(req->tenant, sizeof req->tenant, "%s", s.tenant);
    snprintf(req->token_id, sizeof req->token_id, "%s", s.id);
    if (!role_allows(s.role, need)) {
        *ret = srv_reply_error(req, 403, "forbidden",
                               need == SRV_AUTH_ADMIN ? "this needs an admin token"
                                                      : "this token's role may not do that",
                               NULL);
        return false;
    }
    return true;
}
