/*
 * srv_auth: bearer tokens, roles, tenants and per-token rate limits for spoold.
 *
 * A token is looked up by its SHA-256 hash (spool.token_lookup) and the answer, positive
 * or negative, is cached for auth_cache so that a revocation takes effect within that time
 * on every spoold. Each cached token carries a token bucket (rate_limit per second, burst
 * rate_burst). The cache has a fixed number of slots; an evicted token is simply looked up
 * again. Thread-safe.
 *
 * Roles: admin may do everything; client may submit, read, cancel and retry (within its
 * tenant when it has one) and read types, stats and workers; worker may only read.
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <stdbool.h>

#include "srv_http.h"

SP_MUSTCHECK int srv_auth_new(srv_auth **out, bool enabled, int cache_ms, int rate_per_s,
                              int burst);
void srv_auth_free(srv_auth *auth);

/* Authenticates req for a route needing `need`. true: go on (req->role and req->tenant are
 * set); false: an error reply (401, 403, 429, 503) is queued and *ret is MHD's answer. */
bool srv_auth_check(srv_auth *auth, srv_req *req, srv_auth_need need, enum MHD_Result *ret);

#endif
