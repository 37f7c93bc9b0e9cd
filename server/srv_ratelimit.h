/*
 * srv_ratelimit: the token bucket behind spoold's per-token rate limit.
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per second; each request
 * takes one. A request that finds less than one token is refused and told how many whole
 * seconds to wait (the Retry-After of its 429). The caller owns the bucket and serialises
 * access to it (srv_auth keeps one per cached token under its lock); time is passed in, so
 * the arithmetic is pure and testable.
 */
#ifndef SRV_RATELIMIT_H
#define SRV_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double tokens;
    int64_t refilled_us; /* monotonic time of the last refill */
} srv_ratelimit_bucket;

/* A full bucket at time now_us. */
void srv_ratelimit_init(srv_ratelimit_bucket *b, double burst, int64_t now_us);

/* Refills b for the time since its last refill, then takes one token. true: allowed.
 * false: refused, and *retry_after_s (>= 1) is the wait until a token is there. rate <= 0
 * means no limit (always true). */
bool srv_ratelimit_take(srv_ratelimit_bucket *b, double rate, double burst, int64_t now_us,
                        int *retry_after_s);

#endif
