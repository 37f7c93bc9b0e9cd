/* wrk_backoff: capped exponential backoff with jitter; see wrk_backoff.h. */
#include "wrk_backoff.h"

int64_t wrk_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint32_t rnd)
{
    if (base_ms < 1)
        base_ms = 1;
    if (max_ms < base_ms)
        max_ms = base_ms;
    int64_t wait = base_ms;
    for (int i = 1; i < attempt && wait < max_ms; i++)
        wait *= 2;
    if (wait > max_ms)
        wait = max_ms;
    /* 50%..100% of the capped wait. */
    int64_t half = wait / 2;
    int64_t jittered = half + (half > 0 ? (int64_t)(rnd % (uint32_t)(half + 1)) : 0);
    return jittered < 1 ? 1 : jittered;
}
