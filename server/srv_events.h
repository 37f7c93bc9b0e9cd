/*
 * srv_events: the event hub of spoold. One thread holds one LISTEN connection (channel
 * spool_events), reads new rows of spool.event_log in id order, and fans each out in
 * memory to the subscribers whose filters match.
 *
 * Gap-free order: event ids come from a sequence, so a smaller id can commit after a
 * larger one. The hub delivers strictly in id order up to a watermark: when an id is
 * missing, what follows waits until the hole fills or until every transaction that could
 * still fill it has ended (the read's snapshot xmin passes the xmax of a snapshot taken
 * after the hole was first seen), then the hole is skipped (a rolled-back insert, or a
 * sequence jump after a crash).
 *
 * Messages are formatted once (the SSE frame) and shared, reference-counted, by every
 * subscriber queue. Each subscriber has a bounded queue; one that falls behind is ended
 * (its client reconnects with Last-Event-ID and loses nothing).
 *
 * Threading: the hub thread produces; MHD threads consume through srv_sub_*. A
 * subscriber's wake callback is called with the subscriber's lock held.
 */
#ifndef SRV_EVENTS_H
#define SRV_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sp_err.h"

typedef struct srv_events srv_events;
typedef struct srv_sub srv_sub;
typedef struct srv_msg srv_msg;

typedef struct {
    int queue_events; /* per-subscriber queue bound */
    int heartbeat_ms; /* idle streams get a comment this often */
    int max_subscribers;
    int poll_ms; /* fallback read when no notification comes */
    int connect_timeout_s;
} srv_events_config;

typedef struct {
    char job_id[40]; /* empty: every job */
    char type[201];
    char queue[201];
    char status[32];
    char tenant[201]; /* empty: every customer */
} srv_sub_filter;

SP_MUSTCHECK int srv_events_start(const srv_events_config *cfg, const char *database_url,
                                  srv_events **out);
/* Ends every stream cleanly (wakes them with end-of-stream) and stops the hub thread. */
void srv_events_shutdown(srv_events *ev);
void srv_events_free(srv_events *ev);
size_t srv_events_subscriber_count(srv_events *ev);
uint64_t srv_events_dropped_count(srv_events *ev);
/* The id of the last event delivered (the watermark). */
int64_t srv_events_watermark(srv_events *ev);

/* Registers a subscriber. *watermark receives the id up to which events were delivered
 * before it joined: events after it arrive in its queue. wake(arg) is called (with the
 * subscriber lock held) when the queue becomes non-empty, a heartbeat is due, or the
 * stream must end, if srv_sub_pop previously reported "nothing" and set the sleeping flag.
 * SP_E_RANGE: max_subscribers reached. */
SP_MUSTCHECK int srv_events_subscribe(srv_events *ev, const srv_sub_filter *f,
                                      void (*wake)(void *arg), void *arg, srv_sub **out,
                                      int64_t *watermark);
void srv_events_unsubscribe(srv_events *ev, srv_sub *sub);

typedef enum {
    SRV_SUB_MSG = 0,   /* *msg is the next message (release it with srv_msg_release) */
    SRV_SUB_EMPTY,     /* nothing now; the subscriber is marked sleeping and will be woken */
    SRV_SUB_HEARTBEAT, /* nothing queued, but a heartbeat comment is due */
    SRV_SUB_END,       /* shutting down or dropped for falling behind */
} srv_sub_state;

/* Takes the next message. With sleep_if_empty, an empty queue marks the subscriber
 * sleeping and calls before_sleep(arg) under the subscriber lock (so that a wake cannot
 * slip between the check and the suspend). */
srv_sub_state srv_sub_pop(srv_sub *sub, srv_msg **msg, void (*before_sleep)(void *arg), void *arg);
bool srv_sub_dropped(srv_sub *sub);

const char *srv_msg_frame(const srv_msg *m, size_t *len);
int64_t srv_msg_id(const srv_msg *m);
const char *srv_msg_status(const srv_msg *m);
void srv_msg_release(srv_msg *m);

/* Whether a message with these fields passes a filter (exposed for tests). job_ids is the
 * PostgreSQL text of a uuid[] ("{a,b}"). */
bool srv_events_filter_match(const srv_sub_filter *f, const char *type, const char *queue,
                             const char *status, const char *customer_id, const char *job_ids);

/* Formats an SSE frame: "id: N\nevent: KIND\ndata: JSON\n\n" into a new message (refcount
 * 1) carrying the filter fields. NULL when out of memory. */
srv_msg *srv_msg_new(int64_t id, const char *kind, const char *status, const char *type,
                     const char *queue, const char *customer_id, const char *job_ids,
                     const char *json);

#endif
