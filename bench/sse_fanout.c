/*
 * sse_fanout: SSE fan-out benchmark for spoold (driven by bench/sse.sh).
 *
 *   sse_fanout --port P --database-url URL [--token T] [--spoold-pid PID]
 *              [--subscribers 10000] [--events 100] [--interval-ms 50] [--queue fanout]
 *              [--sources 1] [--connect-timeout 120] [--drain-ms 5000]
 *
 * Opens N event streams (GET /v1/events?queue=Q) from one epoll loop on non-blocking sockets
 * (no thread per connection; the NOFILE limit is raised to its hard limit), waits until every
 * stream has its 200 response, then submits one job every interval through libpq
 * (spool.submit, autocommit), noting the time the result arrives, that is just after the
 * commit. For every subscriber and job it measures the delay from that moment to the arrival
 * of the job's event. Prints p50/p90/p99/max delivery latency, events delivered/expected,
 * duplicates and lost streams, and spoold's RSS (VmRSS of /proc/PID/status) idle, with N
 * subscribers, and after the events.
 *
 * Everything runs in one thread: the database connection is non-blocking too and sits in the
 * same epoll set, so waiting for a submit never delays reading the streams (a blocked reader
 * would add its wait to every latency it measures). --sources K spreads the connections over
 * the source addresses 127.0.0.1 .. 127.0.0.K, for more streams than one address's
 * ephemeral ports allow.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define LINE_MAX_BYTES 65536 /* a longer line is dropped (counted), never grown further */
#define CONNECT_BURST 256    /* connects in flight at once, so the listen backlog holds */
#define DB_TAG UINT32_MAX    /* epoll data of the database socket */

enum sub_state { S_CONNECTING, S_HEADERS, S_STREAMING, S_CLOSED };
enum chunk_state { C_SIZE, C_SIZE_EXT, C_DATA, C_DATA_END };

typedef struct {
    int fd;
    uint8_t state;
    uint8_t status_seen, chunked, chunk_state;
    size_t chunk_left;
    long long frame_id; /* id: of the frame being read */
    long long last_id;  /* highest id seen, for duplicates */
    char *line;
    size_t len, cap;
    bool overlong;
} sub;

/* The submitted jobs: uuid text -> submit time, open addressing. */
typedef struct {
    char id[37];
    double at_ms;
} job_slot;

static struct {
    const char *host, *token, *url, *queue;
    int port, nsubs, nevents, interval_ms, nsources, connect_timeout_s, drain_ms, spid;
} opt = {"127.0.0.1", "", NULL, "fanout", 8080, 10000, 100, 50, 1, 120, 5000, 0};

static sub *subs;
static job_slot *jobs;
static size_t jobs_cap;
static float *lat; /* at most one per subscriber and job */
static size_t nlat, lat_cap;
/* Arrivals of a job whose submit result has not been read yet: spoold may see the commit and
 * deliver before this loop reads the result. They are resolved when the result comes. */
typedef struct {
    char id[36];
} early_arrival;
static early_arrival *early;
static size_t nearly, early_cap;
static long long n_up, n_refused, n_failed, n_lost, n_dup, n_overlong, n_unknown;
static char first_refusal[160];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* VmRSS of a process in kB, or -1. */
static long rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* CPU seconds (user + system) a process has used, from /proc/PID/stat; -1 if unknown. */
static double cpu_s(int pid)
{
    char path[64], buf[1024];
    unsigned long long ut, st;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static uint64_t hash36(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 36; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static void job_put(const char *id, double at)
{
    size_t i = hash36(id) & (jobs_cap - 1);
    while (jobs[i].id[0] && memcmp(jobs[i].id, id, 36) != 0)
        i = (i + 1) & (jobs_cap - 1);
    memcpy(jobs[i].id, id, 36);
    jobs[i].at_ms = at;
}

static const job_slot *job_get(const char *id)
{
    size_t i = hash36(id) & (jobs_cap - 1);
    while (jobs[i].id[0]) {
        if (memcmp(jobs[i].id, id, 36) == 0)
            return &jobs[i];
        i = (i + 1) & (jobs_cap - 1);
    }
    return NULL;
}

/* Closes a stream and counts it: refused (not a 200), failed (before its 200) or lost (after). */
static void close_sub(sub *s, int ep, bool refused)
{
    if (s->state == S_CLOSED)
        return;
    epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    if (refused)
        n_refused++;
    else if (s->state == S_STREAMING)
        n_lost++;
    else
        n_failed++;
    s->state = S_CLOSED;
    free(s->line);
    s->line = NULL;
}

/* Counts the job ids of one data line: "job_id":"…" or "job_ids":["…",…], whitespace
 * allowed around the punctuation. */
static void on_data(const char *json, double t)
{
    const char *p = strstr(json, "\"job_id");
    if (p == NULL)
        return;
    p += 7;
    if (*p == 's')
        p++;
    if (*p++ != '"')
        return;
    while (*p == ' ' || *p == ':')
        p++;
    bool array = *p == '[';
    if (array)
        p++;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p != '"' || memchr(p, '\0', 38) != NULL || p[37] != '"')
            return;
        const job_slot *j = job_get(p + 1);
        if (j != NULL) {
            if (nlat < lat_cap)
                lat[nlat++] = (float)(t - j->at_ms);
        } else if (nearly < early_cap) {
            memcpy(early[nearly++].id, p + 1, 36);
        } else {
            n_unknown++;
        }
        p += 38;
        if (!array)
            return;
    }
}

static void on_line(sub *s, int ep, const char *line, double t)
{
    if (s->state == S_HEADERS) {
        if (!s->status_seen) {
            s->status_seen = 1;
            if (strncmp(line, "HTTP/1.", 7) != 0 || strncmp(line + 8, " 200", 4) != 0) {
                if (n_refused == 0)
                    snprintf(first_refusal, sizeof first_refusal, "%s", line);
                close_sub(s, ep, true);
            }
        } else if (line[0] == '\0') {
            s->state = S_STREAMING;
            n_up++;
        } else if (strncasecmp(line, "transfer-encoding:", 18) == 0 &&
                   strcasestr(line, "chunked")) {
            s->chunked = 1;
        }
        return;
    }
    if (strncmp(line, "id:", 3) == 0) {
        s->frame_id = strtoll(line + 3, NULL, 10);
    } else if (strncmp(line, "data:", 5) == 0) {
        if (s->frame_id != 0 && s->frame_id <= s->last_id) {
            n_dup++;
            return;
        }
        if (s->frame_id != 0)
            s->last_id = s->frame_id;
        on_data(line + 5, t);
    } else if (line[0] == '\0') {
        s->frame_id = 0;
    }
}

/* Feeds body or header bytes to the line splitter. */
static void feed_lines(sub *s, int ep, const char *p, size_t n, double t)
{
    for (size_t i = 0; i < n && s->state != S_CLOSED; i++) {
        if (p[i] == '\n') {
            if (s->len > 0 && s->line[s->len - 1] == '\r')
                s->len--;
            if (!s->overlong) {
                s->line[s->len] = '\0';
                on_line(s, ep, s->line, t);
            }
            s->len = 0;
            s->overlong = false;
            continue;
        }
        if (s->len + 2 > s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 512;
            if (cap > LINE_MAX_BYTES) {
                if (!s->overlong)
                    n_overlong++;
                s->overlong = true;
                continue;
            }
            char *l = realloc(s->line, cap);
            if (l == NULL) {
                fputs("out of memory\n", stderr);
                exit(1);
            }
            s->line = l;
            s->cap = cap;
        }
        s->line[s->len++] = p[i];
    }
}

/* Strips HTTP/1.1 chunked framing from the body, feeding the payload to the lines. */
static void feed_body(sub *s, int ep, const char *p, size_t n, double t)
{
    if (!s->chunked) {
        feed_lines(s, ep, p, n, t);
        return;
    }
    size_t i = 0;
    while (i < n && s->state != S_CLOSED) {
        if (s->chunk_state == C_SIZE) {
            char c = p[i++];
            if (c == '\n') {
                if (s->chunk_left == 0) { /* the last chunk: the stream ended */
                    close_sub(s, ep, false);
                    return;
                }
                s->chunk_state = C_DATA;
            } else if (c == ';' || c == ' ' || c == '\t') {
                s->chunk_state = C_SIZE_EXT;
            } else if (c >= '0' && c <= '9') {
                s->chunk_left = s->chunk_left * 16 + (size_t)(c - '0');
            } else if ((c | 32) >= 'a' && (c | 32) <= 'f') {
                s->chunk_left = s->chunk_left * 16 + (size_t)((c | 32) - 'a' + 10);
            }
        } else if (s->chunk_state == C_DATA) {
            size_t take = n - i < s->chunk_left ? n - i : s->chunk_left;
            feed_lines(s, ep, p + i, take, t);
            i += take;
            s->chunk_left -= take;
            if (s->chunk_left == 0)
                s->chunk_state = C_DATA_END;
        } else if (s->chunk_state == C_SIZE_EXT) { /* chunk extensions: ignored */
            if (p[i++] == '\n') {
                if (s->chunk_left == 0) {
                    close_sub(s, ep, false);
                    return;
                }
                s->chunk_state = C_DATA;
            }
        } else if (p[i++] == '\n') { /* the CRLF after a chunk's data */
            s->chunk_state = C_SIZE;
        }
    }
}

/* Reads what a stream has. t is when epoll reported it readable: the data had arrived by
 * then, and the time this loop then spends on other streams is not charged to spoold. */
static void on_readable(sub *s, int ep, double t)
{
    char buf[65536];
    for (;;) {
        ssize_t r = read(s->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            close_sub(s, ep, false);
            return;
        }
        size_t i = 0;
        /* Headers are split into lines unchunked; the body after the blank line may be. */
        while (i < (size_t)r && s->state == S_HEADERS) {
            const char *nl = memchr(buf + i, '\n', (size_t)r - i);
            size_t take = nl ? (size_t)(nl - (buf + i)) + 1 : (size_t)r - i;
            feed_lines(s, ep, buf + i, take, t);
            i += take;
        }
        if (i < (size_t)r && s->state == S_STREAMING)
            feed_body(s, ep, buf + i, (size_t)r - i, t);
        if (s->state == S_CLOSED)
            return;
    }
}

static void send_request(sub *s, int ep, const char *req, size_t len)
{
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0 ||
        write(s->fd, req, len) != (ssize_t)len) {
        close_sub(s, ep, false);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(s - subs)};
    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
    s->state = S_HEADERS;
}

static int open_sub(sub *s, int ep, int i)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    inet_pton(AF_INET, opt.host, &to.sin_addr);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        fprintf(stderr, "socket: %s (raise the NOFILE limit: ulimit -n)\n", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt.nsources > 1) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        from.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % opt.nsources));
        setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(s->fd, (struct sockaddr *)&from, sizeof from) != 0) {
            fprintf(stderr, "bind: %s\n", strerror(errno));
            return -1;
        }
    }
    s->state = S_CONNECTING;
    if (connect(s->fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS) {
        n_failed++;
        close(s->fd);
        s->state = S_CLOSED;
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    return 0;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static int usage(FILE *out, int rc)
{
    fputs("usage: sse_fanout --port P --database-url URL [--token T] [--spoold-pid PID]\n"
          "       [--host 127.0.0.1] [--subscribers 10000] [--events 100] [--interval-ms 50]\n"
          "       [--queue fanout] [--sources 1] [--connect-timeout 120] [--drain-ms 5000]\n",
          out);
    return rc;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *num = NULL;
        const char **str = NULL;
        if (!strcmp(k, "--help") || !strcmp(k, "-h"))
            return usage(stdout, -1);
        else if (!strcmp(k, "--port"))
            num = &opt.port;
        else if (!strcmp(k, "--subscribers"))
            num = &opt.nsubs;
        else if (!strcmp(k, "--events"))
            num = &opt.nevents;
        else if (!strcmp(k, "--interval-ms"))
            num = &opt.interval_ms;
        else if (!strcmp(k, "--sources"))
            num = &opt.nsources;
        else if (!strcmp(k, "--connect-timeout"))
            num = &opt.connect_timeout_s;
        else if (!strcmp(k, "--drain-ms"))
            num = &opt.drain_ms;
        else if (!strcmp(k, "--spoold-pid"))
            num = &opt.spid;
        else if (!strcmp(k, "--host"))
            str = &opt.host;
        else if (!strcmp(k, "--token"))
            str = &opt.token;
        else if (!strcmp(k, "--database-url"))
            str = &opt.url;
        else if (!strcmp(k, "--queue"))
            str = &opt.queue;
        else {
            fprintf(stderr, "unknown option %s\n", k);
            return usage(stderr, 2);
        }
        if (v == NULL) {
            fprintf(stderr, "%s needs a value\n", k);
            return usage(stderr, 2);
        }
        if (num != NULL) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end != '\0' || n < 0 || n > 10000000) {
                fprintf(stderr, "%s: not a number: %s\n", k, v);
                return 2;
            }
            *num = (int)n;
        } else {
            *str = v;
        }
        i++;
    }
    if (opt.url == NULL || opt.nsubs < 1 || opt.nevents < 1 || opt.nsources < 1 ||
        opt.nsources > 254 || (double)opt.nsubs * opt.nevents > 50e6)
        return usage(stderr, 2);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc != 0)
        return rc < 0 ? 0 : rc; /* -1: --help */

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)opt.nsubs + 64)
            fprintf(stderr, "warning: NOFILE hard limit %lu is below %d streams\n",
                    (unsigned long)rl.rlim_max, opt.nsubs);
    }
    for (jobs_cap = 64; jobs_cap < (size_t)opt.nevents * 2; jobs_cap *= 2)
        ;
    jobs = calloc(jobs_cap, sizeof *jobs);
    subs = calloc((size_t)opt.nsubs, sizeof *subs);
    lat_cap = (size_t)opt.nsubs * (size_t)opt.nevents;
    lat = malloc(lat_cap * sizeof *lat);
    early_cap = (size_t)opt.nsubs * 4;
    early = malloc(early_cap * sizeof *early);
    if (jobs == NULL || subs == NULL || lat == NULL || early == NULL) {
        fputs("out of memory\n", stderr);
        return 1;
    }

    PGconn *db = PQconnectdb(opt.url);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "database: %s", PQerrorMessage(db));
        return 1;
    }
    long rss_idle = rss_kb(opt.spid);

    char req[2048];
    int reqlen = snprintf(req, sizeof req,
                          "GET /v1/events?queue=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                          "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
                          opt.queue, opt.host, opt.port, opt.token);
    if (reqlen <= 0 || reqlen >= (int)sizeof req) {
        fputs("request too long\n", stderr);
        return 2;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[1024];

    /* Connect, at most CONNECT_BURST handshakes in flight. */
    double t0 = now_ms();
    int opened = 0;
    while (n_up + n_failed + n_refused < opt.nsubs) {
        long long pending = opened - (n_up + n_failed + n_refused);
        while (opened < opt.nsubs && pending < CONNECT_BURST) {
            if (open_sub(&subs[opened], ep, opened) != 0)
                return 1;
            opened++;
            pending++;
        }
        if (now_ms() - t0 > opt.connect_timeout_s * 1000.0) {
            fprintf(stderr, "only %lld of %d streams established after %d s\n", n_up, opt.nsubs,
                    opt.connect_timeout_s);
            break;
        }
        int n = epoll_wait(ep, evs, 1024, 50);
        double t = now_ms();
        for (int i = 0; i < n; i++) {
            sub *s = &subs[evs[i].data.u32];
            if (s->state == S_CONNECTING)
                send_request(s, ep, req, (size_t)reqlen);
            else
                on_readable(s, ep, t);
        }
    }
    printf("%lld streams established in %.1f s (%lld refused, %lld failed)\n", n_up,
           (now_ms() - t0) / 1000, n_refused, n_failed);
    if (n_refused > 0)
        printf("  first refusal: %s\n", first_refusal);
    if (n_up == 0)
        return 1;
    /* Let spoold settle (first heartbeats, buffers) before measuring its memory. */
    for (double until = now_ms() + 1000; now_ms() < until;) {
        int n = epoll_wait(ep, evs, 1024, 50);
        double t = now_ms();
        for (int i = 0; i < n; i++)
            on_readable(&subs[evs[i].data.u32], ep, t);
    }
    long rss_loaded = rss_kb(opt.spid);
    long long streams = n_up;

    /* Submit on a fixed schedule; the database socket shares the epoll loop. */
    if (PQsetnonblocking(db, 1) != 0) {
        fprintf(stderr, "database: %s", PQerrorMessage(db));
        return 1;
    }
    struct epoll_event dbev = {.events = EPOLLIN, .data.u32 = DB_TAG};
    epoll_ctl(ep, EPOLL_CTL_ADD, PQsocket(db), &dbev);
    const char *params[] = {opt.queue};
    int submitted = 0, done = 0;
    bool in_flight = false;
    double start = now_ms(), late_ms = 0, drain_end = 0;
    double cpu0 = cpu_s(opt.spid), self0 = self_cpu_s();
    for (;;) {
        double t = now_ms();
        if (!in_flight && submitted < opt.nevents && t >= start + submitted * opt.interval_ms) {
            late_ms += t - (start + submitted * opt.interval_ms);
            int f = PQsendQueryParams(db, "SELECT id FROM spool.submit('bench', queue => $1)", 1,
                                      NULL, params, NULL, NULL, 0)
                        ? 1
                        : -1;
            while (f == 1)
                f = PQflush(db); /* a short query: at most a few retries */
            if (f != 0) {
                fprintf(stderr, "submit: %s", PQerrorMessage(db));
                return 1;
            }
            in_flight = true;
            submitted++;
        }
        if (done == opt.nevents && drain_end == 0)
            drain_end = now_ms() + opt.drain_ms;
        if (drain_end != 0 &&
            ((long long)nlat >= (long long)streams * opt.nevents || now_ms() >= drain_end))
            break;
        double next = in_flight || submitted == opt.nevents ? now_ms() + 50
                                                            : start + submitted * opt.interval_ms;
        int wait = (int)(next - now_ms()) + 1;
        int n = epoll_wait(ep, evs, 1024, wait < 0 ? 0 : wait);
        double t_ready = now_ms();
        /* The database first: its result dates the job the streams in this batch carry. */
        for (int i = 1; i < n; i++)
            if (evs[i].data.u32 == DB_TAG) {
                struct epoll_event tmp = evs[0];
                evs[0] = evs[i];
                evs[i] = tmp;
            }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u32 != DB_TAG) {
                on_readable(&subs[evs[i].data.u32], ep, t_ready);
                continue;
            }
            if (!PQconsumeInput(db)) {
                fprintf(stderr, "submit: %s", PQerrorMessage(db));
                return 1;
            }
            PGresult *r;
            while (!PQisBusy(db) && (r = PQgetResult(db)) != NULL) {
                double at = t_ready; /* the commit happened just before the result came */
                if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
                    fprintf(stderr, "submit: %s", PQresultErrorMessage(r));
                    return 1;
                }
                const char *id = PQgetvalue(r, 0, 0);
                job_put(id, at);
                /* Deliveries that beat the result: latency 0 (they came before "just after
                 * the commit"); any other early id is not one of ours. */
                for (size_t k = 0; k < nearly; k++) {
                    if (memcmp(early[k].id, id, 36) != 0)
                        n_unknown++;
                    else if (nlat < lat_cap)
                        lat[nlat++] = 0;
                }
                nearly = 0;
                PQclear(r);
                done++;
            }
            if (!PQisBusy(db))
                in_flight = false;
        }
    }
    long rss_after = rss_kb(opt.spid);
    double wall_s = (now_ms() - start) / 1000, cpu1 = cpu_s(opt.spid), self1 = self_cpu_s();
    n_unknown += (long long)nearly;

    long long expected = streams * opt.nevents;
    printf("events delivered: %zu of %lld expected (%lld subscribers x %d events, one every %d ms"
           "%s)\n",
           nlat, expected, streams, opt.nevents, opt.interval_ms,
           late_ms / opt.nevents > opt.interval_ms / 10.0 ? ", submits fell behind" : "");
    printf("  streams lost during the run: %lld, duplicate frames: %lld, unknown job ids: %lld, "
           "overlong lines: %lld\n",
           n_lost, n_dup, n_unknown, n_overlong);
    if (nlat > 0) {
        qsort(lat, nlat, sizeof *lat, cmp_f);
        printf("delivery latency (commit -> subscriber): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
               "max %.2f ms\n",
               lat[nlat / 2], lat[(size_t)((double)nlat * 0.90)],
               lat[(size_t)((double)nlat * 0.99)], lat[nlat - 1]);
    }
    if (opt.spid > 0 && cpu0 >= 0 && cpu1 >= 0 && nlat > 0)
        printf("CPU while the events ran (%.1f s): spoold %.2f s (%.1f us per delivery), this "
               "load generator %.2f s\n",
               wall_s, cpu1 - cpu0, (cpu1 - cpu0) * 1e6 / (double)nlat, self1 - self0);
    if (opt.spid > 0)
        printf("spoold RSS: idle %.1f MB, %lld subscribers connected %.1f MB, after the events "
               "%.1f MB\n",
               rss_idle / 1024.0, streams, rss_loaded / 1024.0, rss_after / 1024.0);

    for (int i = 0; i < opt.nsubs; i++)
        if (i < opened && subs[i].state != S_CLOSED) {
            close(subs[i].fd);
            free(subs[i].line);
        }
    close(ep);
    PQfinish(db);
    free(subs);
    free(jobs);
    free(lat);
    free(early);
    return (long long)nlat == expected ? 0 : 3;
}
