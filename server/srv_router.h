/*
 * srv_router: maps a method and path to a route of spoold's route table.
 *
 * Patterns are literal segments and "{name}" segments, each capturing one path segment
 * (at most SRV_ROUTER_MAX_PARAMS). Matching is exact (no trailing slash, no prefix match).
 * Pure and thread-safe: the table is static and read-only.
 */
#ifndef SRV_ROUTER_H
#define SRV_ROUTER_H

#include <stddef.h>

#define SRV_ROUTER_MAX_PARAMS 2
#define SRV_ROUTER_MAX_SEGMENT 200

struct srv_req;

typedef enum {
    SRV_AUTH_NONE = 0, /* public: health, readiness, metrics */
    SRV_AUTH_READ,     /* any valid token */
    SRV_AUTH_SUBMIT,   /* admin or client */
    SRV_AUTH_ADMIN,    /* admin only */
} srv_auth_need;

typedef struct {
    const char *method;
    const char *pattern; /* e.g. "/v1/jobs/{id}" */
    const char *name;    /* metric label, e.g. "jobs_get" */
    srv_auth_need auth;
    int (*handler)(struct srv_req *req);
} srv_route;

typedef struct {
    const srv_route *route;
    size_t nparams;
    char params[SRV_ROUTER_MAX_PARAMS][SRV_ROUTER_MAX_SEGMENT + 1];
} srv_match;

typedef enum {
    SRV_ROUTE_FOUND = 0,
    SRV_ROUTE_NOT_FOUND,  /* no pattern matches the path: 404 */
    SRV_ROUTE_BAD_METHOD, /* the path matches, the method does not: 405 */
} srv_route_result;

/* The route table of spoold (defined in srv_api.c) and its length. */
extern const srv_route srv_routes[];
extern const size_t srv_nroutes;

/* Matches method and path (no query string) against table. On SRV_ROUTE_BAD_METHOD, allow
 * receives the allowed methods, comma-separated. */
srv_route_result srv_router_match(const srv_route *table, size_t n, const char *method,
                                  const char *path, srv_match *m, char *allow, size_t allowlen);

#endif
