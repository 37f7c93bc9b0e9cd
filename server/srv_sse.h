/*
 * srv_sse: Server-Sent Events responses for spoold (GET /v1/events, GET /v1/jobs/{id}/events).
 *
 * A stream replays what its client missed (Last-Event-ID header or ?last_event_id=) from the
 * database up to the hub's watermark at the moment it subscribed, then continues with live
 * events from its queue — no gap and no duplicate at the hand-off. A per-job stream without
 * Last-Event-ID starts with the job's history and ends after the job's final event. Idle
 * streams get ": ping" comments; a stream with nothing to send suspends its connection and
 * the hub resumes it, so no thread waits on a stream.
 */
#ifndef SRV_SSE_H
#define SRV_SSE_H

#include <stdbool.h>
#include <stdint.h>

#include "srv_events.h"
#include "srv_http.h"

typedef struct {
    srv_sub_filter filter; /* job_id set for a per-job stream */
    int64_t last_event_id; /* -1: none */
} srv_sse_params;

/* Queues the stream response (or an error reply: 503 when too many subscribers or the hub
 * is not connected yet). */
enum MHD_Result srv_sse_start(srv_req *req, const srv_sse_params *p);

#endif
