/* Unit tests for srv_events: stream filters (tenant, type, queue, status, job in a batch
 * row), SSE framing of messages, and the gap-free cursor fed by a fake event log (holes
 * that fill, holes that never do, and a randomised log of concurrent transactions that
 * commit and roll back out of order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srv_events.h"

#define A "01a20400-0000-7000-8000-00000000000a"
#define B "01a20400-0000-7000-8000-00000000000b"

static void test_filters(void **state)
{
    (void)state;
    srv_sub_filter f;
    memset(&f, 0, sizeof f);
    assert_true(srv_events_filter_match(&f, "t", "q", "pending", NULL, "{" A "}"));
    strcpy(f.tenant, "acme");
    assert_false(srv_events_filter_match(&f, "t", "q", "pending", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "t", "q", "pending", "globex", "{" A "}"));
    assert_true(srv_events_filter_match(&f, "t", "q", "pending", "acme", "{" A "}"));
    memset(&f, 0, sizeof f);
    strcpy(f.type, "resize");
    strcpy(f.queue, "gpu");
    strcpy(f.status, "completed");
    assert_true(srv_events_filter_match(&f, "resize", "gpu", "completed", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "resize", "cpu", "completed", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "other", "gpu", "completed", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "resize", "gpu", "running", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, NULL, "gpu", "completed", NULL, "{" A "}"));
}

static void test_job_in_batch(void **state)
{
    (void)state;
    srv_sub_filter f;
    memset(&f, 0, sizeof f);
    strcpy(f.job_id, B);
    assert_true(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" A "," B "}"));
    assert_true(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" B "}"));
    assert_true(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" B "," A "}"));
    assert_false(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" A "}"));
    assert_false(srv_events_filter_match(&f, "t", "q", "s", NULL, NULL));
    /* A prefix of another id is not a match. */
    strcpy(f.job_id, "01a20400-0000-7000-8000-00000000000");
    assert_false(srv_events_filter_match(&f, "t", "q", "s", NULL, "{" A "}"));
}

static void test_frame(void **state)
{
    (void)state;
    srv_msg *m =
        srv_msg_new(42, "completed", "completed", "t", "q", NULL, "{" A "}", "{\"id\":42}");
    assert_non_null(m);
    size_t len;
    const char *f = srv_msg_frame(m, &len);
    assert_string_equal(f, "id: 42\nevent: completed\ndata: {\"id\":42}\n\n");
    assert_int_equal(len, strlen(f));
    assert_int_equal(srv_msg_id(m), 42);
    assert_string_equal(srv_msg_status(m), "completed");
    srv_msg_release(m);
}

/* ---- the gap-free cursor ------------------------------------------------------------- */

/* One read of a fake log: feeds rows (ascending ids) read with a snapshot whose xmin is
 * `xmin` to the cursor, the way the hub does, and appends what it may deliver to out. When
 * the cursor asks for a mark, *mark_asked is set and `mark` is recorded (the hub takes a
 * fresh transaction id after the read). Returns whether the read stopped at a hole. */
static bool feed_mark(srv_events_gap *g, const int64_t *rows, int n, uint64_t xmin, uint64_t mark,
                      bool *mark_asked, int64_t *out, int *nout)
{
    if (mark_asked)
        *mark_asked = false;
    if (n > 0)
        srv_events_gap_begin_read(g, rows[n - 1]);
    for (int i = 0; i < n; i++) {
        if (rows[i] <= g->watermark)
            continue;
        srv_events_gap_verdict v = srv_events_gap_check(g, rows[i], xmin);
        if (v == SRV_GAP_MARK) {
            if (mark_asked)
                *mark_asked = true;
            srv_events_gap_set_mark(g, mark);
        }
        if (v != SRV_GAP_DELIVER)
            return true;
        out[(*nout)++] = rows[i];
        srv_events_gap_delivered(g, rows[i]);
    }
    return false;
}

static bool feed(srv_events_gap *g, const int64_t *rows, int n, uint64_t xmin, uint64_t mark,
                 int64_t *out, int *nout)
{
    return feed_mark(g, rows, n, xmin, mark, NULL, out, nout);
}

static void test_gap_in_order(void **state)
{
    (void)state;
    srv_events_gap g;
    srv_events_gap_init(&g, 10);
    int64_t out[8];
    int n = 0;
    const int64_t r[] = {11, 12, 13};
    assert_false(feed(&g, r, 3, 100, 0, out, &n));
    assert_int_equal(n, 3);
    assert_int_equal(g.watermark, 13);
    assert_int_equal(srv_events_gap_read_size(&g, 1000), 1000);
}

static void test_gap_hole_fills(void **state)
{
    (void)state;
    srv_events_gap g;
    srv_events_gap_init(&g, 0);
    int64_t out[8];
    int n = 0;
    bool asked;
    /* 3 is taken by a transaction still running: 4 and 5 wait behind it. */
    const int64_t r1[] = {1, 2, 4, 5};
    assert_true(feed_mark(&g, r1, 4, 100, 0, &asked, out, &n));
    assert_false(asked);
    assert_int_equal(n, 2);
    assert_int_equal(g.watermark, 2);
    /* While waiting, a read needs only the ids up to the first present one. */
    assert_int_equal(srv_events_gap_read_size(&g, 1000), 2);
    const int64_t r2[] = {4, 5};
    /* Seen again: the hub takes a mark (transaction id 110). */
    assert_true(feed_mark(&g, r2, 2, 100, 110, &asked, out, &n));
    assert_true(asked);
    assert_true(feed_mark(&g, r2, 2, 101, 999, &asked, out, &n));
    assert_false(asked);
    assert_int_equal(g.mark, 110);
    assert_int_equal(n, 2);
    /* It commits. */
    const int64_t r3[] = {3, 4, 5};
    assert_false(feed(&g, r3, 3, 106, 0, out, &n));
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(out[i], i + 1);
    assert_int_equal(g.skipped, 0);
    assert_int_equal(srv_events_gap_read_size(&g, 1000), 1000);
}

static void test_gap_hole_rolled_back(void **state)
{
    (void)state;
    srv_events_gap g;
    srv_events_gap_init(&g, 0);
    int64_t out[8];
    int n = 0;
    const int64_t r[] = {3};
    /* 1 and 2 missing. First sight: wait. */
    assert_true(feed(&g, r, 1, 100, 0, out, &n));
    /* Second: the mark is 120. */
    assert_true(feed(&g, r, 1, 100, 120, out, &n));
    /* A transaction below 120 still runs (xmin 119): wait. */
    assert_true(feed(&g, r, 1, 119, 0, out, &n));
    assert_int_equal(n, 0);
    /* Everything below the mark has ended and 1, 2 are still missing: skipped. */
    assert_false(feed(&g, r, 1, 120, 0, out, &n));
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 3);
    assert_int_equal(g.skipped, 2);
    assert_int_equal(g.watermark, 3);
}

static void test_gap_two_holes(void **state)
{
    (void)state;
    srv_events_gap g;
    srv_events_gap_init(&g, 0);
    int64_t out[8];
    int n = 0;
    const int64_t r[] = {2, 4};
    assert_true(feed(&g, r, 2, 100, 0, out, &n));
    assert_true(feed(&g, r, 2, 100, 150, out, &n));
    assert_int_equal(g.mark_cover, 4);
    assert_int_equal(n, 0);
    /* One mark covers both holes (1 and 3): both ids were handed out before 4's. */
    assert_false(feed(&g, r, 2, 150, 0, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 4);
    assert_int_equal(g.skipped, 2);
}

static void test_gap_hole_above_cover(void **state)
{
    (void)state;
    srv_events_gap g;
    srv_events_gap_init(&g, 0);
    int64_t out[8];
    int n = 0;
    bool asked;
    const int64_t r1[] = {2};
    assert_true(feed(&g, r1, 1, 100, 0, out, &n));
    assert_true(feed_mark(&g, r1, 1, 100, 150, &asked, out, &n));
    assert_true(asked);
    assert_int_equal(g.mark_cover, 2);
    /* 3 is missing and 4 arrives after the mark's read: 3 is not covered. */
    const int64_t r2[] = {2, 4};
    assert_true(feed_mark(&g, r2, 2, 150, 0, &asked, out, &n));
    assert_false(asked);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 2);
    /* The next read asks for a mark of its own. */
    assert_true(feed_mark(&g, r2, 2, 150, 160, &asked, out, &n));
    assert_true(asked);
    assert_true(feed(&g, r2, 2, 159, 0, out, &n));
    assert_false(feed(&g, r2, 2, 160, 0, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[1], 4);
    assert_int_equal(g.skipped, 2);
}

/* A fake database: transactions take a transaction id when they start (spool's functions
 * write a job row before their event row), then one or more event ids from the sequence,
 * and commit or roll back in random order. The hub's reads see committed rows only, with
 * the snapshot PostgreSQL would take: xmax is one past the latest completed transaction
 * and xmin the oldest running transaction below xmax (running ones at or above xmax do not
 * count) - the case that makes a snapshot's xmax useless as a mark. A mark is a new
 * transaction id that completes at once. */
#define SIM_TX 64
#define SIM_IDS 4096

typedef struct {
    uint64_t xid;
    int64_t ids[4];
    int nids;
    bool running;
} sim_tx;

typedef struct {
    sim_tx tx[SIM_TX];
    int ntx; /* transactions at once, at most SIM_TX */
    uint64_t next_xid, latest_completed;
    int64_t next_id;
    bool committed[SIM_IDS + 64]; /* a step adds at most 40 ids past the loop's bound */
} sim_db;

static void sim_end(sim_db *db, uint64_t xid)
{
    if (xid > db->latest_completed)
        db->latest_completed = xid;
}

static uint64_t sim_xmin(const sim_db *db)
{
    uint64_t xmax = db->latest_completed + 1, xmin = xmax;
    for (int i = 0; i < db->ntx; i++)
        if (db->tx[i].running && db->tx[i].xid < xmin)
            xmin = db->tx[i].xid;
    return xmin;
}

/* One hub read of at most `size` rows after the cursor. */
static void sim_read(sim_db *db, srv_events_gap *g, int size, int64_t *out, int *nout)
{
    int64_t rows[SIM_IDS + 64];
    int n = 0;
    for (int64_t id = g->watermark + 1; id < db->next_id && n < size; id++)
        if (db->committed[id])
            rows[n++] = id;
    bool asked;
    uint64_t mark = db->next_xid; /* used only when asked for */
    feed_mark(g, rows, n, sim_xmin(db), mark, &asked, out, nout);
    if (asked)
        sim_end(db, db->next_xid++);
}

static void test_gap_random_log(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 300; seed++) {
        srand(seed);
        sim_db *db = calloc(1, sizeof(*db));
        assert_non_null(db);
        db->next_xid = 1000;
        db->latest_completed = 999;
        db->next_id = 1;
        db->ntx = 1 + (int)(seed % 8) * (seed % 3 == 0 ? 8 : 1);
        srv_events_gap g;
        srv_events_gap_init(&g, 0);
        int64_t *out = calloc(SIM_IDS + 64, sizeof(*out));
        int nout = 0;
        int steps = 0;
        while (db->next_id < SIM_IDS && steps++ < 20000) {
            int r = rand() % 13;
            if (r < 2) { /* begin: a transaction id first (spool writes a job row) */
                for (int i = 0; i < db->ntx; i++)
                    if (!db->tx[i].running) {
                        db->tx[i].xid = db->next_xid++;
                        db->tx[i].nids = 0;
                        db->tx[i].running = true;
                        break;
                    }
            } else if (r < 4) { /* a running transaction writes an event: takes an id */
                sim_tx *t = &db->tx[rand() % db->ntx];
                if (t->running && t->nids < 4)
                    t->ids[t->nids++] = db->next_id++;
            } else if (r < 5) { /* a transaction that writes no event */
                sim_end(db, db->next_xid++);
            } else if (r < 9) { /* commit or roll back one */
                sim_tx *t = &db->tx[rand() % db->ntx];
                if (t->running) {
                    if (rand() % 5 != 0)
                        for (int k = 0; k < t->nids; k++)
                            db->committed[t->ids[k]] = true;
                    t->running = false;
                    sim_end(db, t->xid);
                }
            } else if (r < 10) {
                db->next_id += rand() % 40; /* a sequence jump (crash): ids never used */
            } else {
                sim_read(db, &g, srv_events_gap_read_size(&g, 1 + rand() % 50), out, &nout);
            }
        }
        for (int i = 0; i < SIM_TX; i++)
            if (db->tx[i].running) {
                for (int k = 0; k < db->tx[i].nids; k++)
                    db->committed[db->tx[i].ids[k]] = true;
                db->tx[i].running = false;
                sim_end(db, db->tx[i].xid);
            }
        /* Every hole left is given up within three reads. */
        for (int i = 0; i < 3 * SIM_IDS && g.watermark < db->next_id - 1; i++)
            sim_read(db, &g, srv_events_gap_read_size(&g, 1000), out, &nout);
        /* Exactly the committed ids, each once, in order. */
        int k = 0;
        for (int64_t id = 1; id < db->next_id; id++)
            if (db->committed[id]) {
                assert_true(k < nout);
                assert_int_equal(out[k], id);
                k++;
            }
        assert_int_equal(k, nout);
        free(out);
        free(db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),        cmocka_unit_test(test_job_in_batch),
        cmocka_unit_test(test_frame),          cmocka_unit_test(test_gap_in_order),
        cmocka_unit_test(test_gap_hole_fills), cmocka_unit_test(test_gap_hole_rolled_back),
        cmocka_unit_test(test_gap_two_holes),  cmocka_unit_test(test_gap_hole_above_cover),
        cmocka_unit_test(test_gap_random_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
