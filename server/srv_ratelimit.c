/*
 * srv_ratelimit: token bucket arithmetic (see srv_ratelimit.h).
 */
#include "srv_ratelimit.h"

void srv_ratelimit_init(srv_ratelimit_bucket *b, double burst, int64_t now_us)
{
    b->tokens = burst;
    b->refilled_us = now_us;
}

bool srv_ratelimit_take(srv_ratelimit_bucket *b, double rate, double burst, int64_t now_us,
                        int *retry_after_s)
{
    if (rate <= 0)
        return true;
    /* A clock that went backwards (it should not: monotonic) refills nothing. */
    if (now_us > b->refilled_us) {
        b->tokens += (double)(now_us - b->refilled_us) / 1e6 * rate;
        b->refilled_us = now_us;
    }
    if (b->tokens > burst)
        b->tokens = burst;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    double wait = (1.0 - b->tokens) / rate;
    int whole = wait > 86400 ? 86400 : (int)wait;
    if (whole < wait && whole < 86400)
        whole++; /* round up: a client that waits that long finds a token */
    *retry_after_s = whole < 1 ? 1 : whole;
    return false;
}
