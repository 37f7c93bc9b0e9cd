/*
 * srv_pool: a bounded pool of database connections for request handlers.
 *
 * A handler takes one connection for the length of one request and gives it back. When
 * every connection is in use, srv_pool_get waits up to the configured time, then fails
 * (the caller answers 503). Broken connections are reconnected lazily; while the database
 * is unreachable, reconnect attempts are spaced with a capped backoff so that requests fail
 * fast (503) instead of piling up, and the pool recovers by itself when it comes back.
 * Thread-safe.
 */
#ifndef SRV_POOL_H
#define SRV_POOL_H

#include "sp_db.h"
#include "sp_err.h"

typedef struct srv_pool srv_pool;

/* statement_timeout_ms: set as PostgreSQL's statement_timeout on every connection (0: none). */
SP_MUSTCHECK int srv_pool_new(srv_pool **out, const char *url, int size, int wait_ms,
                              int connect_timeout_s, int statement_timeout_ms);
void srv_pool_free(srv_pool *pool);

/* A connected database handle into *db, or SP_E_RANGE (none free in time) or SP_E_CONN
 * (the database is unreachable). */
SP_MUSTCHECK int srv_pool_get(srv_pool *pool, sp_db **db);

/* Gives a handle back. broken: the handle saw a connection error; it is reconnected on its
 * next use. */
void srv_pool_put(srv_pool *pool, sp_db *db, int broken);

/* Connections in use and the pool size, for /metrics. */
void srv_pool_usage(srv_pool *pool, int *in_use, int *size);

#endif
