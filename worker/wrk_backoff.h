/*
 * wrk_backoff: capped exponential backoff with jitter, for reconnecting to the database.
 *
 * The n-th wait (n from 1) is min(max, base * 2^(n-1)), jittered down to 50%..100% of that so
 * that many workers that lost the same database do not come back in lock step. Pure; the
 * caller supplies the random value.
 */
#ifndef WRK_BACKOFF_H
#define WRK_BACKOFF_H

#include <stdint.h>

/* Milliseconds to wait before attempt n + 1 (n >= 1 failures so far); rnd is any 32-bit
 * random value. Never less than 1 ms, never more than max_ms. */
int64_t wrk_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint32_t rnd);

#endif
