/*
 * srv_events: the event hub of spoold. One thread holds one LISTEN connection (channel
 * spool_events), reads new rows of spool.event_log in id order through
 * spool.events_after(), and fans each out in memory to the subscribers whose filters match.
 * The LISTEN connection is re-established with capped exponential backoff after the
 * database goes away, followed at once by a catch-up read; a poll every poll_ms covers
 * notifications that were coalesced away or lost.
 *
 * Gap-free order: event ids come from a sequence, so a smaller id can commit after a
 * larger one. The hub delivers strictly in id order up to a watermark: when an id is
 * missing below a present one (a hole), what follows waits until the hole fills or until
 * every transaction that could still fill it has ended, and then the hole is skipped (a
 * rolled-back insert, or a sequence jump after a crash). "Every transaction has ended" is
 * read from snapshots: when a read finds the same hole a second time the hub takes a mark,
 * a freshly assigned transaction id (spool.events_hole_mark()), above the id of any
 * transaction that could write the hole (or any other hole below the rows already read);
 * once a later read's snapshot xmin reaches the mark, all of them have ended. (A snapshot's own
 * xmax is not such a bound: it is one past the latest completed transaction, and a running one may
 * sit at or above it without holding xmin back.) See srv_events_gap below; the state machine is
 * pure so that it can be tested on its own. While it waits, the hub re-reads only the rows up to
 * the first present one (a probe of a few rows), 2 ms apart at first and backing off to 20 ms, not
 * whole pages.
 *
 * Messages are formatted once (the SSE frame) and shared, reference-counted, by every
 * subscriber queue. Each subscriber has a bounded queue; one that falls behind is ended and
 * counted (its client reconnects with Last-Event-ID and loses nothing). Memory never grows
 * with a slow client.
 *
 * Threading: the hub thread produces; stream threads (srv_sse's writers, MHD threads during a
 * replay) consume through srv_sub_*. A subscriber's wake callback is called by the hub thread
 * (or by srv_events_shutdown) with the subscriber's lock held; it must not call back into
 * this module, and should be cheap: one event calls it for every sleeping subscriber.
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

/* Zero in a field means its default. */
typedef struct {
    int queue_events;      /* per-subscriber queue bound (1024) */
    int heartbeat_ms;      /* idle streams get a ": ping" comment this often (15000) */
    int max_subscribers;   /* beyond it new streams are refused (20000) */
    int poll_ms;           /* fallback read when no notification comes (1000) */
    int connect_timeout_s; /* the LISTEN connection's connect timeout (5) */
    int read_page;         /* rows per read of the event log (1000, at most 10000) */
    int replay_page;       /* rows per page of a stream's replay (500, at most 10000) */
} srv_events_config;

typedef struct {
    char job_id[40]; /* empty: every job */
    char type[201];
    char queue[201];
    char status[32];
    char tenant[201]; /* empty: every customer */
} srv_sub_filter;

/* Counters for /metrics (monotonic except subscribers, watermark and connected). */
typedef struct {
    size_t subscribers;
    uint64_t dropped;       /* subscribers ended for falling behind (queue full) */
    uint64_t events;        /* event_log rows published */
    uint64_t deliveries;    /* messages queued to subscribers */
    uint64_t holes_skipped; /* missing ids given up as never coming */
    uint64_t reconnects;    /* LISTEN connections re-established */
    int64_t watermark;      /* every event up to this id is published; -1 before the first read */
    bool connected;         /* the LISTEN connection is up */
} srv_events_stats;

/* Starts the hub thread. It connects in the background: until its first read, subscribing
 * fails with SP_E_CONN. */
SP_MUSTCHECK int srv_events_start(const srv_events_config *cfg, const char *database_url,
                                  srv_events **out);
/* Ends every stream cleanly: each subscriber is marked ending and a sleeping one is woken,
 * so that its stream sends what is queued and ends its response; then the hub thread
 * stops. New subscriptions fail from here on. Call before MHD_stop_daemon. */
void srv_events_shutdown(srv_events *ev);
/* Shuts down if needed and frees; accepts NULL. Every subscriber must be unsubscribed. */
void srv_events_free(srv_events *ev);
size_t srv_events_subscriber_count(srv_events *ev);
uint64_t srv_events_dropped_count(srv_events *ev);
/* The id of the last event published (the watermark). */
int64_t srv_events_watermark(srv_events *ev);
void srv_events_get_stats(srv_events *ev, srv_events_stats *out);
/* The replay page size streams use (from the config). */
int srv_events_replay_page(const srv_events *ev);

/* Registers a subscriber. *watermark receives the id up to which events were published
 * before it joined: every later event that passes f arrives in its queue. wake(arg) is
 * called (with the subscriber lock held) when the queue becomes non-empty, a heartbeat is
 * due, or the stream must end, if srv_sub_pop last reported SRV_SUB_EMPTY.
 * SP_E_RANGE: max_subscribers reached. SP_E_CONN: the hub has not read the log yet, or it
 * is shutting down. */
SP_MUSTCHECK int srv_events_subscribe(srv_events *ev, const srv_sub_filter *f,
                                      void (*wake)(void *arg), void *arg, srv_sub **out,
                                      int64_t *watermark);
/* Removes and frees a subscriber (accepts NULL); after it returns, wake is never called
 * again for it. */
void srv_events_unsubscribe(srv_events *ev, srv_sub *sub);

typedef enum {
    SRV_SUB_MSG = 0,   /* *msg is the next message (release it with srv_msg_release) */
    SRV_SUB_EMPTY,     /* nothing now; the subscriber is marked sleeping and will be woken */
    SRV_SUB_HEARTBEAT, /* nothing queued, but a heartbeat comment is due */
    SRV_SUB_END,       /* shutting down or dropped for falling behind */
} srv_sub_state;

/* Takes the next message. With before_sleep, an empty queue marks the subscriber sleeping
 * and calls before_sleep(arg) under the subscriber lock (so that a wake cannot slip between
 * the check and the suspend). Queued messages come out before SRV_SUB_END. */
srv_sub_state srv_sub_pop(srv_sub *sub, srv_msg **msg, void (*before_sleep)(void *arg), void *arg);
/* Whether the stream must end (shutdown, or dropped for falling behind). */
bool srv_sub_ending(srv_sub *sub);
bool srv_sub_dropped(srv_sub *sub);
/* The subscriber's filter (borrowed, valid until unsubscribe). */
const srv_sub_filter *srv_sub_get_filter(const srv_sub *sub);

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

/*
 * The gap-free cursor (the hub's state machine, exposed for tests). Feed it, read by read,
 * the rows above the watermark in id order with the read's snapshot xmin; it says which may
 * go out now.
 *
 * A mark covers every id up to the highest id of the read before the one that asked for it:
 * their writers asked the sequence for them before that row's writer did, which committed
 * before that read, and a read later their transaction ids are below the mark. Once a read's
 * xmin reaches the mark, every id up to the cover that is still missing is gone for good
 * ("settled"), so one mark clears a whole page of holes.
 */
typedef struct {
    int64_t watermark;     /* every id <= watermark is delivered or known never to come */
    int64_t hole;          /* the missing id waited on (watermark + 1); 0: none */
    int seen;              /* reads that found the hole */
    int64_t read_max;      /* the highest id of the current read */
    int64_t prev_read_max; /* ... and of the read before it */
    uint64_t mark;         /* the pending mark; 0: none */
    int64_t mark_cover;    /* the ids it covers: up to this one */
    int64_t settled;       /* a missing id up to this one will never come */
    int64_t blocked_at;    /* the first present id above the hole, in the last read */
    uint64_t skipped;      /* ids given up */
} srv_events_gap;

typedef enum {
    SRV_GAP_DELIVER = 0, /* deliver the row, then call srv_events_gap_delivered */
    SRV_GAP_WAIT,        /* stop this read: the row and every later one wait for the next */
    SRV_GAP_MARK,        /* wait, and take a mark now (srv_events_gap_set_mark) */
} srv_events_gap_verdict;

/* Starts a cursor after `watermark` (every id up to it settled). */
void srv_events_gap_init(srv_events_gap *g, int64_t watermark);
/* Starts a read that returned rows up to `read_max` (call only for a read with rows). */
void srv_events_gap_begin_read(srv_events_gap *g, int64_t read_max);
/* What to do with the row `id` (> g->watermark, the first row of this read not yet
 * delivered), read with a snapshot whose xmin is `xmin`. */
srv_events_gap_verdict srv_events_gap_check(srv_events_gap *g, int64_t id, uint64_t xmin);
/* Records the mark asked for: a transaction id assigned after the read that asked
 * (spool.events_hole_mark()). */
void srv_events_gap_set_mark(srv_events_gap *g, uint64_t mark);
void srv_events_gap_delivered(srv_events_gap *g, int64_t id);
/* How many rows the next read needs: all of a page normally, only up to the first present
 * row while a hole is waited on. */
int srv_events_gap_read_size(const srv_events_gap *g, int page);

#endif
