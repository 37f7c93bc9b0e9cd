/*
 * import_prisma_map: legacy schema shapes and the row mapping of import-prisma; see
 * import_prisma_map.h. Everything here is pure: no I/O, no globals that change.
 */
#include "import_prisma_map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_token.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- shapes -------------------------------------------------------------------------- */

static const char *const job_base_cols[] = {
    "id",
    "status",
    "attempts",
    "error",
    "startedAt",
    "completedAt",
    "createdAt",
    "updatedAt",
    "llmThinking",
    "durationInSeconds",
    "logs",
    "evaluationId",
    "evaluationVersionId",
};
static const char *const task_base_cols[] = {
    "id", "name", "modelName", "timeInSeconds", "log", "createdAt", "updatedAt", "jobId",
};
static const char *const eval_cols_needed[] = {"id", "documentId", "agentId"};
static const char *const known_statuses[] = {"PENDING", "RUNNING", "COMPLETED", "FAILED",
                                             "CANCELLED"};

/* The shapes the reference describes, oldest first (docs/import-prisma.md lists them). */
static const cli_pmap_shape shapes[] = {
    {"2025-05-16 initial (costInCents, no tasks, no retries)", false, false, true, false, false,
     false, false, false},
    {"2025-06-11 tasks (costInCents, Task.priceInCents)", true, false, true, false, false, false,
     false, false},
    {"2025-06-22 retries (costInCents, Task.priceInCents)", true, true, true, false, false, false,
     false, false},
    {"2025-07-13 Task.priceInDollars (Job.costInCents)", true, true, true, false, true, false,
     false, false},
    {"2025-07-29 Job.priceInDollars next to costInCents", true, true, true, true, true, false,
     false, false},
    {"2025-07-30 priceInDollars (costInCents dropped)", true, true, false, true, true, false, false,
     false},
    {"pg-boss era (CANCELLED, cancellation fields, pgBossJobId)", true, true, false, true, true,
     false, true, true},
};

static bool has_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* The "Job" columns a shape has. Returns the count written to out (max 32). */
static size_t shape_job_cols(const cli_pmap_shape *s, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(job_base_cols); i++)
        out[n++] = job_base_cols[i];
    if (s->job_cents)
        out[n++] = "costInCents";
    if (s->job_dollars)
        out[n++] = "priceInDollars";
    if (s->has_retries) {
        out[n++] = "originalJobId";
        out[n++] = "agentEvalBatchId";
    }
    if (s->has_cancel) {
        out[n++] = "cancelledAt";
        out[n++] = "cancelledById";
        out[n++] = "cancellationReason";
    }
    if (s->has_pgboss) {
        out[n++] = "pgBossJobId";
        out[n++] = "telemetryProgress";
    }
    return n;
}

static size_t shape_task_cols(const cli_pmap_shape *s, const char **out)
{
    size_t n = 0;
    if (!s->has_tasks)
        return 0;
    for (size_t i = 0; i < ARRAY_LEN(task_base_cols); i++)
        out[n++] = task_base_cols[i];
    out[n++] = s->task_dollars ? "priceInDollars" : "priceInCents";
    return n;
}

/* Appends ", name" (or "name") to a message under construction. */
static void list_add(char *list, size_t len, const char *prefix, const char *name)
{
    size_t used = strlen(list);
    if (used + 1 >= len)
        return;
    snprintf(list + used, len - used, "%s%s%s\"", used > 0 ? ", " : "", prefix, name);
}

/* How far a source is from a shape: columns missing plus columns unknown. With diff
 * non-NULL, also says which. */
static size_t shape_distance(const cli_pmap_shape *s, const char *const *job_cols, size_t njob,
                             const char *const *task_cols, size_t ntask, char *diff, size_t difflen)
{
    const char *want[32];
    size_t d = 0, nwant = shape_job_cols(s, want);
    for (size_t i = 0; i < nwant; i++)
        if (!has_name(job_cols, njob, want[i])) {
            d++;
            if (diff)
                list_add(diff, difflen, "missing \"Job\".\"", want[i]);
        }
    for (size_t i = 0; i < njob; i++)
        if (!has_name(want, nwant, job_cols[i])) {
            d++;
            if (diff)
                list_add(diff, difflen, "unexpected \"Job\".\"", job_cols[i]);
        }
    nwant = shape_task_cols(s, want);
    if (!s->has_tasks && ntask > 0) {
        d += ntask;
        if (diff)
            list_add(diff, difflen, "unexpected table \"", "Task");
    } else if (s->has_tasks && ntask == 0) {
        d += nwant;
        if (diff)
            list_add(diff, difflen, "missing table \"", "Task");
    } else {
        for (size_t i = 0; i < nwant; i++)
            if (!has_name(task_cols, ntask, want[i])) {
                d++;
                if (diff)
                    list_add(diff, difflen, "missing \"Task\".\"", want[i]);
            }
        for (size_t i = 0; i < ntask; i++)
            if (!has_name(want, nwant, task_cols[i]) &&
                strcmp(task_cols[i], "llmInteractions") != 0) {
                d++;
                if (diff)
                    list_add(diff, difflen, "unexpected \"Task\".\"", task_cols[i]);
            }
    }
    return d;
}

int cli_pmap_detect(const char *const *job_cols, size_t njob, const char *const *task_cols,
                    size_t ntask, const char *const *eval_cols, size_t neval,
                    const char *const *statuses, size_t nstatus, cli_pmap_shape *out, char *err,
                    size_t errlen)
{
    if (njob == 0) {
        snprintf(err, errlen, "the source has no table \"Job\"");
        return SP_E_NOTFOUND;
    }
    if (neval == 0) {
        snprintf(err, errlen, "the source has no table \"Evaluation\"");
        return SP_E_NOTFOUND;
    }
    for (size_t i = 0; i < ARRAY_LEN(eval_cols_needed); i++)
        if (!has_name(eval_cols, neval, eval_cols_needed[i])) {
            snprintf(err, errlen, "table \"Evaluation\" has no column \"%s\"", eval_cols_needed[i]);
            return SP_E_NOTFOUND;
        }
    for (size_t i = 0; i < nstatus; i++)
        if (!has_name(known_statuses, ARRAY_LEN(known_statuses), statuses[i])) {
            snprintf(err, errlen, "unknown \"JobStatus\" value \"%s\"", statuses[i]);
            return SP_E_NOTFOUND;
        }
    size_t best = 0, best_d = SIZE_MAX;
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
        size_t d = shape_distance(&shapes[i], job_cols, njob, task_cols, ntask, NULL, 0);
        if (d < best_d) {
            best_d = d;
            best = i;
        }
    }
    if (best_d == 0) {
        *out = shapes[best];
        out->task_llm = ntask > 0 && has_name(task_cols, ntask, "llmInteractions");
        return 0;
    }
    char diff[768] = "";
    (void)shape_distance(&shapes[best], job_cols, njob, task_cols, ntask, diff, sizeof(diff));
    snprintf(err, errlen, "unrecognised schema: nearest known shape is %s; %s", shapes[best].name,
             diff);
    return SP_E_NOTFOUND;
}

/* ---- scalar mappings ------------------------------------------------------------------ */

int cli_pmap_parse_running(const char *text, cli_pmap_running *out)
{
    if (text != NULL && strcmp(text, "requeue") == 0)
        *out = CLI_PMAP_RUNNING_REQUEUE;
    else if (text != NULL && strcmp(text, "fail") == 0)
        *out = CLI_PMAP_RUNNING_FAIL;
    else
        return SP_E_INVAL;
    return 0;
}

int cli_pmap_status(const char *legacy, bool has_successor, cli_pmap_running mode,
                    const char **status, bool *live)
{
    *live = false;
    if (legacy == NULL)
        return SP_E_INVAL;
    if (strcmp(legacy, "PENDING") == 0) {
        *status = "pending";
        *live = true;
    } else if (strcmp(legacy, "RUNNING") == 0) {
        *live = mode == CLI_PMAP_RUNNING_REQUEUE;
        *status = *live ? "pending" : "dead";
    } else if (strcmp(legacy, "COMPLETED") == 0) {
        *status = "completed";
    } else if (strcmp(legacy, "FAILED") == 0) {
        *status = has_successor ? "failed" : "dead";
    } else if (strcmp(legacy, "CANCELLED") == 0) {
        *status = "cancelled";
    } else {
        return SP_E_INVAL;
    }
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int cli_pmap_cents_to_dollars(const char *cents, char *out, size_t outlen)
{
    if (cents == NULL)
        return SP_E_INVAL;
    const char *p = cents;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    size_t n = strlen(p);
    if (n == 0 || n > 40)
        return SP_E_INVAL;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(p[i]))
            return SP_E_INVAL;
    while (n > 1 && *p == '0') {
        p++;
        n--;
    }
    char digits[48];
    /* At least three digits: "5" -> "005" -> 0.05. */
    size_t pad = n < 3 ? 3 - n : 0;
    memset(digits, '0', pad);
    memcpy(digits + pad, p, n);
    n += pad;
    digits[n] = '\0';
    char frac[3] = {digits[n - 2], digits[n - 1], '\0'};
    if (frac[1] == '0')
        frac[1] = '\0';
    if (frac[0] == '0' && frac[1] == '\0')
        frac[0] = '\0';
    digits[n - 2] = '\0';
    bool zero = strcmp(digits, "0") == 0 && frac[0] == '\0';
    int w = snprintf(out, outlen, "%s%s%s%s", neg && !zero ? "-" : "", digits,
                     frac[0] != '\0' ? "." : "", frac);
    return w < 0 || (size_t)w >= outlen ? SP_E_RANGE : 0;
}

int cli_pmap_decimal(const char *text, char *out, size_t outlen)
{
    if (text == NULL)
        return SP_E_INVAL;
    const char *p = text;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    const char *ip = p;
    while (is_digit(*p))
        p++;
    size_t ilen = (size_t)(p - ip);
    const char *fp = NULL;
    size_t flen = 0;
    if (*p == '.') {
        fp = ++p;
        while (is_digit(*p))
            p++;
        flen = (size_t)(p - fp);
    }
    if (*p != '\0' || ilen + flen == 0)
        return SP_E_INVAL;
    while (ilen > 0 && *ip == '0') {
        ip++;
        ilen--;
    }
    while (flen > 0 && fp[flen - 1] == '0')
        flen--;
    bool zero = ilen == 0 && flen == 0;
    int w = snprintf(out, outlen, "%s%.*s%s%s%.*s", neg && !zero ? "-" : "", (int)ilen,
                     ilen > 0 ? ip : "", ilen == 0 ? "0" : "", flen > 0 ? "." : "", (int)flen,
                     flen > 0 ? fp : "");
    return w < 0 || (size_t)w >= outlen ? SP_E_RANGE : 0;
}

int cli_pmap_timestamp(const char *text, char *out, size_t outlen)
{
    if (text == NULL)
        return SP_E_INVAL;
    size_t n = strlen(text);
    int w;
    if (strcmp(text, "infinity") == 0 || strcmp(text, "-infinity") == 0) {
        w = snprintf(out, outlen, "%s", text);
        return w < 0 || (size_t)w >= outlen ? SP_E_RANGE : 0;
    }
    bool bc = n > 3 && strcmp(text + n - 3, " BC") == 0;
    size_t body = bc ? n - 3 : n;
    /* An offset follows the time of day: a '+' or '-' after the space or 'T'. */
    const char *sep = memchr(text, ' ', body);
    if (sep == NULL)
        sep = memchr(text, 'T', body);
    if (sep == NULL)
        return SP_E_INVAL;
    bool has_offset = false;
    for (const char *q = sep; q < text + body; q++)
        if (*q == '+' || *q == '-' || *q == 'Z')
            has_offset = true;
    if (has_offset)
        w = snprintf(out, outlen, "%s", text);
    else
        w = snprintf(out, outlen, "%.*s+00%s", (int)body, text, bc ? " BC" : "");
    return w < 0 || (size_t)w >= outlen ? SP_E_RANGE : 0;
}

static bool is_uuid(const char *s)
{
    static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        char c = s[i];
        if (pattern[i] == '-') {
            if (c != '-')
                return false;
        } else if (!is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F')) {
            return false;
        }
    }
    return s[sizeof(pattern) - 1] == '\0';
}

int cli_pmap_uuid(const char *legacy_id, const char *kind, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    if (is_uuid(legacy_id)) {
        for (size_t i = 0; i < 36; i++) {
            char c = legacy_id[i];
            out[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
        }
        out[36] = '\0';
        return 0;
    }
    char name[512];
    uint8_t h[32];
    int w = snprintf(name, sizeof(name), "spool-import:%s:%s", kind, legacy_id);
    if (w < 0 || (size_t)w >= sizeof(name))
        return SP_E_RANGE;
    sp_sha256(name, (size_t)w, h);
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x80);
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
    return 0;
}

/* ---- text encodings ------------------------------------------------------------------- */

/* Appends a JSON string literal; with copy, also escaped for COPY text format. */
static int json_string(sp_buf *buf, const char *text, bool copy)
{
    char tmp[512];
    size_t t = 0;
    const char *bs = copy ? "\\\\" : "\\";
    int rc;
    tmp[t++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (t + 16 > sizeof(tmp)) {
            if ((rc = sp_buf_append(buf, tmp, t)) < 0)
                return rc;
            t = 0;
        }
        unsigned char c = *p;
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\"";
            break;
        case '\\':
            esc = copy ? "\\\\" : "\\";
            break;
        case '\n':
            esc = "n";
            break;
        case '\r':
            esc = "r";
            break;
        case '\t':
            esc = "t";
            break;
        case '\b':
            esc = "b";
            break;
        case '\f':
            esc = "f";
            break;
        default:
            break;
        }
        if (esc != NULL) {
            t += (size_t)sprintf(tmp + t, "%s%s", bs, esc);
        } else if (c < 0x20) {
            t += (size_t)sprintf(tmp + t, "%su%04x", bs, c);
        } else {
            tmp[t++] = (char)c;
        }
    }
    tmp[t++] = '"';
    return sp_buf_append(buf, tmp, t);
}

int cli_pmap_json_string(sp_buf *buf, const char *text)
{
    return json_string(buf, text, false);
}

/* Appends text escaped for COPY text format (no NULL handling). */
static int copy_text(sp_buf *buf, const char *text)
{
    const char *start = text;
    int rc;
    for (const char *p = text; *p != '\0'; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        if ((rc = sp_buf_append(buf, start, (size_t)(p - start))) < 0 ||
            (rc = sp_buf_appends(buf, esc)) < 0)
            return rc;
        start = p + 1;
    }
    return sp_buf_appends(buf, start);
}

int cli_pmap_copy_field(sp_buf *buf, const char *text)
{
    return text == NULL ? sp_buf_appends(buf, "\\N") : copy_text(buf, text);
}

/* ---- rows ----------------------------------------------------------------------------- */

/* A small writer over one COPY line: fields separated by tabs, the first error sticks. */
typedef struct {
    sp_buf *buf;
    int rc;
    bool first;
} line_writer;

static void lw_sep(line_writer *w)
{
    if (w->rc == 0 && !w->first)
        w->rc = sp_buf_append(w->buf, "\t", 1);
    w->first = false;
}

static void lw_field(line_writer *w, const char *text)
{
    lw_sep(w);
    if (w->rc == 0)
        w->rc = cli_pmap_copy_field(w->buf, text);
}

static void lw_raw(line_writer *w, const char *text)
{
    if (w->rc == 0)
        w->rc = sp_buf_appends(w->buf, text);
}

/* Inside a JSON object being written: "key": then a string, raw JSON, or null. */
static void lw_json_key(line_writer *w, bool *first, const char *key)
{
    if (w->rc == 0 && !*first)
        w->rc = sp_buf_append(w->buf, ",", 1);
    *first = false;
    if (w->rc == 0)
        w->rc = json_string(w->buf, key, true);
    lw_raw(w, ":");
}

static void lw_json_str(line_writer *w, bool *first, const char *key, const char *value)
{
    lw_json_key(w, first, key);
    if (w->rc == 0)
        w->rc = value == NULL ? sp_buf_appends(w->buf, "null") : json_string(w->buf, value, true);
}

/* Raw JSON (a number or a document printed by PostgreSQL), escaped for COPY. */
static void lw_json_raw(line_writer *w, bool *first, const char *key, const char *value)
{
    lw_json_key(w, first, key);
    if (w->rc == 0)
        w->rc = value == NULL ? sp_buf_appends(w->buf, "null") : copy_text(w->buf, value);
}

static bool is_integer(const char *s)
{
    if (s == NULL)
        return false;
    if (*s == '-' || *s == '+')
        s++;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!is_digit(*s))
            return false;
    return true;
}

/* Converts a timestamp field; NULL stays NULL. */
static int ts(const char *in, char *out, size_t outlen, const char **res)
{
    if (in == NULL) {
        *res = NULL;
        return 0;
    }
    int rc = cli_pmap_timestamp(in, out, outlen);
    *res = rc == 0 ? out : NULL;
    return rc;
}

/* An ordering key for a timestamp written by cli_pmap_timestamp ("YYYY-MM-DD HH:MM:SS[.f]"
 * and an offset): microseconds since 0000-03-01, or INT64_MIN for anything else (infinity,
 * BC): only the order of the live jobs within a batch depends on it. */
static int64_t timestamp_key(const char *text)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (text == NULL ||
        sscanf(text, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return INT64_MIN;
    int64_t us = 0, scale = 100000;
    const char *p = text + 19;
    if (*p == '.')
        for (p++; is_digit(*p); p++, scale /= 10)
            us += (*p - '0') * scale;
    /* days from civil (Howard Hinnant's algorithm), years counted from March */
    int64_t yy = mo <= 2 ? y - 1 : y;
    int64_t era = yy / 400, yoe = yy - era * 400;
    int64_t doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return ((days * 24 + h) * 60 + mi) * 60000000LL + sec * 1000000LL + us;
}

static int task_line(const cli_pmap_task *t, const char *job_uuid, sp_buf *out, char *err,
                     size_t errlen)
{
    char id[37], price[64], created[64], updated[64];
    const char *p = NULL, *c = NULL, *u = NULL;
    if (cli_pmap_uuid(t->id, "Task", id) < 0) {
        snprintf(err, errlen, "task id %.40s... is longer than 400 bytes", t->id);
        return SP_E_INVAL;
    }
    if (t->price_in_dollars != NULL) {
        if (cli_pmap_decimal(t->price_in_dollars, price, sizeof(price)) < 0)
            goto bad_price;
        p = price;
    } else if (t->price_in_cents != NULL) {
        if (cli_pmap_cents_to_dollars(t->price_in_cents, price, sizeof(price)) < 0)
            goto bad_price;
        p = price;
    }
    if (t->created_at == NULL || ts(t->created_at, created, sizeof(created), &c) < 0 ||
        ts(t->updated_at, updated, sizeof(updated), &u) < 0) {
        snprintf(err, errlen, "task %s: unreadable timestamp", t->id);
        return SP_E_INVAL;
    }
    if (t->time_seconds != NULL && !is_integer(t->time_seconds)) {
        snprintf(err, errlen, "task %s: timeInSeconds is not an integer", t->id);
        return SP_E_INVAL;
    }
    line_writer w = {out, 0, true};
    lw_field(&w, id);
    lw_field(&w, job_uuid);
    lw_field(&w, t->id);
    lw_field(&w, t->name != NULL ? t->name : "");
    lw_field(&w, t->model_name);
    lw_field(&w, p);
    lw_field(&w, t->time_seconds);
    lw_field(&w, t->log);
    lw_field(&w, t->llm_interactions);
    lw_field(&w, c);
    lw_field(&w, u);
    lw_raw(&w, "\n");
    return w.rc;
bad_price:
    snprintf(err, errlen, "task %s: price is not a number", t->id);
    return SP_E_INVAL;
}

int cli_pmap_job_lines(const cli_pmap_job *job, const cli_pmap_task *tasks, size_t ntasks,
                       const cli_pmap_options *opts, sp_buf *jobs, sp_buf *task_lines,
                       sp_buf *scratch, cli_pmap_outcome *outcome, char *err, size_t errlen)
{
    char id[37], root[37], created[64], started[64], completed[64], updated[64], cancelled[64];
    const char *c_created, *c_started, *c_completed, *c_updated, *c_cancelled;
    const char *status;
    bool live;
    int rc;

    if (job->id == NULL || job->created_at == NULL || job->updated_at == NULL) {
        snprintf(err, errlen, "job %s: id, createdAt and updatedAt are required",
                 job->id ? job->id : "(null)");
        return SP_E_INVAL;
    }
    if (cli_pmap_status(job->status, job->has_successor, opts->running, &status, &live) < 0) {
        snprintf(err, errlen, "job %s: unknown status \"%s\"", job->id,
                 job->status ? job->status : "(null)");
        return SP_E_INVAL;
    }
    const char *legacy_status = NULL;
    for (size_t i = 0; i < ARRAY_LEN(known_statuses) && legacy_status == NULL; i++)
        if (strcmp(job->status, known_statuses[i]) == 0)
            legacy_status = known_statuses[i];
    if (!is_integer(job->attempts) ||
        (job->duration_seconds != NULL && !is_integer(job->duration_seconds))) {
        snprintf(err, errlen, "job %s: attempts and durationInSeconds must be integers", job->id);
        return SP_E_INVAL;
    }
    if (ts(job->created_at, created, sizeof(created), &c_created) < 0 ||
        ts(job->started_at, started, sizeof(started), &c_started) < 0 ||
        ts(job->completed_at, completed, sizeof(completed), &c_completed) < 0 ||
        ts(job->updated_at, updated, sizeof(updated), &c_updated) < 0 ||
        ts(job->cancelled_at, cancelled, sizeof(cancelled), &c_cancelled) < 0) {
        snprintf(err, errlen, "job %s: unreadable timestamp", job->id);
        return SP_E_INVAL;
    }

    outcome->status = status;
    outcome->live = live;
    outcome->has_cost = false;
    if (job->price_in_dollars != NULL) {
        if (cli_pmap_decimal(job->price_in_dollars, outcome->cost, sizeof(outcome->cost)) < 0) {
            snprintf(err, errlen, "job %s: priceInDollars is not a number", job->id);
            return SP_E_INVAL;
        }
        outcome->has_cost = true;
    } else if (job->cost_in_cents != NULL) {
        if (cli_pmap_cents_to_dollars(job->cost_in_cents, outcome->cost, sizeof(outcome->cost)) <
            0) {
            snprintf(err, errlen, "job %s: costInCents is not an integer", job->id);
            return SP_E_INVAL;
        }
        outcome->has_cost = true;
    }

    bool legacy_running = strcmp(job->status, "RUNNING") == 0;
    bool requeued = legacy_running && live;
    bool interrupted = legacy_running && !live;
    bool cancelled_st = strcmp(status, "cancelled") == 0;
    const char *finished = NULL;
    if (!live) {
        if (interrupted)
            finished = c_updated;
        else if (cancelled_st)
            finished = c_cancelled ? c_cancelled : c_completed ? c_completed : c_updated;
        else
            finished = c_completed ? c_completed : c_updated;
    }
    const char *error = interrupted ? CLI_PMAP_INTERRUPTED : job->error;
    if (cli_pmap_uuid(job->id, "Job", id) < 0 ||
        (job->original_job_id != NULL &&
         cli_pmap_uuid(job->root_id != NULL ? job->root_id : job->original_job_id, "Job", root) <
             0)) {
        snprintf(err, errlen, "job %.40s...: an id is longer than 400 bytes", job->id);
        return SP_E_INVAL;
    }

    /* The task lines first: the checksum covers them. */
    size_t task_start = sp_buf_len(task_lines);
    for (size_t i = 0; i < ntasks; i++)
        if ((rc = task_line(&tasks[i], id, task_lines, err, errlen)) < 0)
            return rc;

    /* The job's line, all but the checksum and the live flag, into scratch: first the
     * columns the job tables share (the body), then the legacy id and status. */
    sp_buf_reset(scratch);
    line_writer w = {scratch, 0, true};
    lw_field(&w, id);
    lw_field(&w, status);
    lw_field(&w, c_created); /* run_at: the legacy claim order was createdAt */

    /* payload */
    bool f = true;
    lw_sep(&w);
    lw_raw(&w, "{");
    lw_json_str(&w, &f, "evaluationId", job->evaluation_id);
    lw_json_str(&w, &f, "evaluationVersionId", job->evaluation_version_id);
    lw_json_str(&w, &f, "agentEvalBatchId", job->agent_eval_batch_id);
    lw_json_str(&w, &f, "documentId", job->document_id);
    lw_json_str(&w, &f, "agentId", job->agent_id);
    lw_raw(&w, "}");

    /* result: what the attempt produced, when it produced anything */
    lw_sep(&w);
    if (job->llm_thinking == NULL && job->duration_seconds == NULL && job->logs == NULL) {
        lw_raw(&w, "\\N");
    } else {
        f = true;
        lw_raw(&w, "{");
        lw_json_str(&w, &f, "llmThinking", job->llm_thinking);
        lw_json_raw(&w, &f, "durationInSeconds", job->duration_seconds);
        lw_json_str(&w, &f, "logs", job->logs);
        lw_raw(&w, "}");
    }

    lw_field(&w, error);
    /* errors: the error history Spool keeps, here the one error of this row */
    lw_sep(&w);
    if (error != NULL && (strcmp(status, "dead") == 0 || strcmp(status, "failed") == 0)) {
        f = true;
        lw_raw(&w, "[{");
        lw_json_raw(&w, &f, "attempt", job->attempts);
        lw_json_str(&w, &f, "error", error);
        lw_json_str(&w, &f, "at", finished);
        lw_raw(&w, "}]");
    } else {
        lw_raw(&w, "\\N");
    }
    lw_field(&w, job->attempts);

    /* metadata: where the job came from, and legacy fields Spool has no column for */
    f = true;
    bool g = true;
    lw_sep(&w);
    lw_raw(&w, "{");
    lw_json_key(&w, &f, "legacy");
    lw_raw(&w, "{");
    lw_json_str(&w, &g, "source", "prisma");
    lw_json_str(&w, &g, "table", "Job");
    lw_json_str(&w, &g, "id", job->id);
    lw_json_str(&w, &g, "status", job->status);
    lw_json_str(&w, &g, "updatedAt", c_updated);
    if (job->original_job_id != NULL)
        lw_json_str(&w, &g, "originalJobId", job->original_job_id);
    if (job->cost_in_cents != NULL)
        lw_json_raw(&w, &g, "costInCents", job->cost_in_cents);
    if (job->price_in_dollars != NULL)
        lw_json_raw(&w, &g, "priceInDollars", job->price_in_dollars);
    if (job->pgboss_job_id != NULL)
        lw_json_str(&w, &g, "pgBossJobId", job->pgboss_job_id);
    if (job->cancelled_by_id != NULL)
        lw_json_str(&w, &g, "cancelledById", job->cancelled_by_id);
    if (job->telemetry_progress != NULL)
        lw_json_raw(&w, &g, "telemetryProgress", job->telemetry_progress);
    if (requeued) {
        lw_json_str(&w, &g, "startedAt", c_started);
        lw_json_key(&w, &g, "requeued");
        lw_raw(&w, "true");
    }
    if (interrupted && job->error != NULL)
        lw_json_str(&w, &g, "error", job->error);
    lw_raw(&w, "}}");

    lw_field(&w, job->original_job_id != NULL ? root : NULL);
    lw_field(&w, strcmp(status, "completed") == 0 ? "100" : "0"); /* progress */
    lw_field(&w, cancelled_st ? c_cancelled : NULL);
    lw_field(&w, cancelled_st ? job->cancellation_reason : NULL);
    lw_field(&w, outcome->has_cost ? outcome->cost : NULL);
    lw_field(&w, c_created);
    lw_field(&w, requeued ? NULL : c_started);
    lw_field(&w, finished);
    if (w.rc < 0)
        return w.rc;
    size_t body_len = sp_buf_len(scratch);
    lw_field(&w, job->id);
    lw_field(&w, job->status);
    if (w.rc < 0)
        return w.rc;
    size_t legacy_len = sp_buf_len(scratch);

    /* Checksum: the line so far, the live flag, mapping version, options and the tasks'
     * lines. */
    w.rc = sp_buf_appendf(scratch, "\n%c\n%s\n%s\n%d\n", live ? 't' : 'f', CLI_PMAP_VERSION,
                          opts->type, (int)opts->running);
    if (w.rc == 0)
        w.rc = sp_buf_append(scratch, sp_buf_data(task_lines) + task_start,
                             sp_buf_len(task_lines) - task_start);
    if (w.rc < 0)
        return w.rc;
    char sum[65];
    sp_sha256_hex(sp_buf_data(scratch), sp_buf_len(scratch), sum);
    sum[32] = '\0'; /* 128 bits are plenty to notice a change */

    size_t line_start = sp_buf_len(jobs);
    if ((rc = sp_buf_append(jobs, sp_buf_data(scratch), legacy_len)) < 0 ||
        (rc = sp_buf_appendf(jobs, "\t%s\t%c\n", sum, live ? 't' : 'f')) < 0)
        return rc;
    memcpy(outcome->id, id, sizeof(outcome->id));
    outcome->id_kept = is_uuid(job->id);
    memcpy(outcome->checksum, sum, sizeof(outcome->checksum));
    outcome->legacy_status = legacy_status;
    outcome->attempts = strtoll(job->attempts, NULL, 10);
    outcome->run_at = timestamp_key(c_created);
    outcome->body_len = body_len;
    outcome->rows_len = legacy_len + 1 + 32;
    outcome->line_len = sp_buf_len(jobs) - line_start;
    outcome->ntasks = ntasks;
    outcome->tasks_len = sp_buf_len(task_lines) - task_start;
    return 0;
}
