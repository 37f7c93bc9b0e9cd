/*
 * srv_sse: Server-Sent Events responses for spoold (GET /v1/events, GET /v1/jobs/{id}/events).
 *
 * Wire format: "retry: 2000" first, then one frame per event_log row,
 *   id: <event id>\nevent: <kind>\ndata: <spool.events_message JSON, one line>\n\n
 * and ": ping" comments on idle streams every sse_heartbeat. Headers: Content-Type:
 * text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no.
 *
 * A stream replays what its client missed (Last-Event-ID header or ?last_event_id=) from the
 * database up to the hub's watermark at the moment it subscribed, in pages of
 * srv_events_replay_page rows with its filters applied, then continues with live events from
 * its queue - no gap and no duplicate at the hand-off, and across spoold processes (ids are the
 * database sequence). A Last-Event-ID older than the log (pruned) resumes at the oldest event
 * after a comment saying so. A per-job stream without Last-Event-ID starts with the job's
 * history; a per-job stream ends after the job's final event (completed, dead, cancelled),
 * and one that resumes after that event is answered 204 No Content (an EventSource stops
 * reconnecting).
 * Once live, a stream's connection stays suspended in MHD and one of srv_sse_init's writer
 * threads writes its frames to the socket (the response is close-delimited: no chunked
 * encoding), so no thread waits on a stream and a delivery costs one write. A client that
 * stops reading is dropped when its queue is full, or after request_timeout without progress.
 * srv_events_shutdown ends every stream cleanly (within a short flush time for a client that
 * does not read, 2 s); every stream has been handed back to MHD before the drain in main ends.
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

/* Starts `threads` writer threads (process-wide; once). Call before the HTTP daemon starts.
 * SP_E_INVAL for a count outside 1..64. */
SP_MUSTCHECK int srv_sse_init(int threads);
/* Stops the writers. Call after the HTTP daemon has stopped (no stream is live then). */
void srv_sse_free(void);

/* Queues the stream response (or an error reply: 503 when too many subscribers or the hub
 * is not connected yet). */
enum MHD_Result srv_sse_start(srv_req *req, const srv_sse_params *p);

#endif
