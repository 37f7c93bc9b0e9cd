/*
 * sse_fanout: SSE fan-out benchmark for spoold.
 *
 *   sse_fanout --port P --token T --database-url URL --spoold-pid PID
 *              [--subscribers 10000] [--events 100] [--interval-ms 50]
 *
 * Opens N event streams (GET /v1/events?queue=fanout) from one epoll loop, waits until all
 * are established, then submits one job at a time through libpq (spool.submit), noting the
 * time right after each commit, and measures for every subscriber the delay from that
 * moment to the arrival of the job's "submitted" event. Prints p50 / p99 / max delivery
 * latency, events delivered / expected, and spoold's RSS idle and with N subscribers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_EVENTS_TRACKED 100000
#define LINE_MAX_LEN 16384

typedef struct {
    int fd;
    int connected; /* headers of the 200 response seen */
    char line[LINE_MAX_LEN];
    size_t len;
} sub;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static double *submit_ms; /* by job seq - base_seq */
static long long base_seq = -1;
static double *lat;
static size_t nlat, caplat;
static long long delivered;

/* The job seq is the low 48 bits of the id's last 12 hex digits (see spool.submit_one). */
static long long seq_of(const char *uuid36)
{
    return strtoll(uuid36 + 24, NULL, 16) & 0xFFFFFFFFFFFFLL;
}

static void on_line(sub *s, const char *line, double t)
{
    if (!s->connected) {
        if (line[0] == '\0')
            s->connected = 1;
        return;
    }
    if (strncmp(line, "data: ", 6) != 0)
        return;
    const char *p = strstr(line, "\"job_ids\":[\"");
    if (p == NULL || base_seq < 0)
        return;
    long long k = seq_of(p + 12) - base_seq;
    if (k < 0 || k >= MAX_EVENTS_TRACKED || submit_ms[k] == 0)
        return;
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 1 << 20;
        lat = realloc(lat, caplat * sizeof *lat);
    }
    lat[nlat++] = t - submit_ms[k];
    delivered++;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pump(int ep, sub *subs, int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, timeout_ms);
    double t = now_ms();
    for (int i = 0; i < n; i++) {
        sub *s = &subs[evs[i].data.u32];
        char buf[65536];
        for (;;) {
            ssize_t r = read(s->fd, buf, sizeof buf);
            if (r <= 0)
                break;
            for (ssize_t j = 0; j < r; j++) {
                if (buf[j] == '\n') {
                    if (s->len > 0 && s->line[s->len - 1] == '\r')
                        s->len--;
                    s->line[s->len] = '\0';
                    on_line(s, s->line, t);
                    s->len = 0;
                } else if (s->len < LINE_MAX_LEN - 1) {
                    s->line[s->len++] = buf[j];
                }
            }
        }
    }
}

int main(int argc, char **argv)
{
    int port = 8080, nsubs = 10000, nevents = 100, interval = 50, spid = 0;
    const char *token = "", *url = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--token"))
            token = argv[i + 1];
        else if (!strcmp(argv[i], "--database-url"))
            url = argv[i + 1];
        else if (!strcmp(argv[i], "--subscribers"))
            nsubs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--events"))
            nevents = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--interval-ms"))
            interval = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--spoold-pid"))
            spid = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (url == NULL || nevents > MAX_EVENTS_TRACKED) {
        fprintf(stderr,
                "usage: sse_fanout --database-url URL --port P --token T --spoold-pid PID ...\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    submit_ms = calloc(MAX_EVENTS_TRACKED, sizeof *submit_ms);
    PGconn *db = PQconnectdb(url);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "database: %s", PQerrorMessage(db));
        return 1;
    }
    long idle = spid ? rss_kb(spid) : -1;

    int ep = epoll_create1(0);
    sub *subs = calloc((size_t)nsubs, sizeof *subs);
    char req[1024];
    int reqlen = snprintf(req, sizeof req,
                          "GET /v1/events?queue=fanout HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
                          token);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    double t0 = now_ms();
    for (int i = 0; i < nsubs; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (write(fd, req, (size_t)reqlen) != reqlen)
            return 1;
        fcntl(fd, F_SETFL, O_NONBLOCK);
        subs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        if (i % 500 == 0)
            pump(ep, subs, 0);
    }
    for (;;) {
        int up = 0;
        for (int i = 0; i < nsubs; i++)
            up += subs[i].connected;
        if (up == nsubs)
            break;
        if (now_ms() - t0 > 120000) {
            fprintf(stderr, "only %d of %d streams established\n", up, nsubs);
            return 1;
        }
        pump(ep, subs, 50);
    }
    printf("%d streams established in %.1f s\n", nsubs, (now_ms() - t0) / 1000);
    pump(ep, subs, 500);
    long loaded = spid ? rss_kb(spid) : -1;

    for (int e = 0; e < nevents; e++) {
        PGresult *r = PQexec(db, "SELECT id FROM spool.submit('bench', queue => 'fanout')");
        double t = now_ms();
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "submit: %s", PQerrorMessage(db));
            return 1;
        }
        long long seq = seq_of(PQgetvalue(r, 0, 0));
        if (base_seq < 0)
            base_seq = seq;
        if (seq - base_seq >= 0 && seq - base_seq < MAX_EVENTS_TRACKED)
            submit_ms[seq - base_seq] = t;
        PQclear(r);
        double until = t + interval;
        while (now_ms() < until)
            pump(ep, subs, (int)(until - now_ms()) + 1);
    }
    double drain_until = now_ms() + 3000;
    while (delivered < (long long)nsubs * nevents && now_ms() < drain_until)
        pump(ep, subs, 50);
    long peak = spid ? rss_kb(spid) : -1;

    qsort(lat, nlat, sizeof *lat, cmp_d);
    printf(
        "events delivered: %lld of %lld expected (%d subscribers x %d events, one every %d ms)\n",
        delivered, (long long)nsubs * nevents, nsubs, nevents, interval);
    if (nlat > 0)
        printf("delivery latency (commit -> subscriber): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               lat[nlat / 2], lat[(size_t)((double)nlat * 0.99)], lat[nlat - 1]);
    printf("spoold RSS: idle %.1f MB, %d subscribers connected %.1f MB, after the events %.1f MB\n",
           idle / 1024.0, nsubs, loaded / 1024.0, peak / 1024.0);
    for (int i = 0; i < nsubs; i++)
        close(subs[i].fd);
    PQfinish(db);
    return 0;
}
