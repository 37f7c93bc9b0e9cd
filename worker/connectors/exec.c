/*
 * exec: runs the configured local command (exec_command; never a command from a payload)
 * once per job, with the job's payload as JSON on its stdin. Its stdout is the result: JSON
 * when it parses as JSON, else the text as a JSON string.
 *
 * The command runs in its own process group with a cleaned environment (the worker's,
 * minus SPOOL_WORKER_* and variables whose names hold KEY, SECRET, PASSWORD or TOKEN, plus
 * SPOOL_JOB_ID, SPOOL_JOB_TYPE, SPOOL_JOB_ATTEMPT). On a stop (cancellation, timeout,
 * shutdown) or past exec_timeout, the whole group gets SIGTERM, then SIGKILL after
 * exec_kill_grace ms. stdout is bounded by exec_max_output; stderr keeps its last 4 KiB for
 * the error message.
 *
 * Exit status: 0 completes; 64 (EX_USAGE) and 65 (EX_DATAERR) are permanent failures (the
 * payload is wrong); any other status or a signal is a retryable failure.
 */
#define _GNU_SOURCE /* pipe2 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sp_buf.h"
#include "sp_json.h"
#include "wrk_connector.h"

#define EXEC_MAX_ARGS 64
#define EXEC_STDERR_KEEP 4096

extern char **environ;

typedef struct {
    char *argv[EXEC_MAX_ARGS + 1];
    char *path; /* argv[0] resolved against PATH at start */
    char *workdir;
    long timeout_s;
    size_t max_output;
    long kill_grace_ms;
} exec_state;

static void exec_destroy(void *state)
{
    exec_state *st = state;
    if (st == NULL)
        return;
    for (int i = 0; st->argv[i] != NULL; i++)
        free(st->argv[i]);
    free(st->path);
    free(st->workdir);
    free(st);
}

/* Splits a command line on spaces; "double quotes" group words (\" and \\ inside). */
static int split_command(const char *cmd, char **argv, char *err, size_t errlen)
{
    int n = 0;
    const char *p = cmd;
    while (*p != '\0') {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        if (n == EXEC_MAX_ARGS) {
            snprintf(err, errlen, "invalid value for exec_command: more than %d words",
                     EXEC_MAX_ARGS);
            return SP_E_RANGE;
        }
        char *word = malloc(strlen(p) + 1);
        if (word == NULL)
            return SP_E_NOMEM;
        size_t w = 0;
        bool quoted = false;
        for (; *p != '\0' && (quoted || !isspace((unsigned char)*p)); p++) {
            if (*p == '"') {
                quoted = !quoted;
            } else if (quoted && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                word[w++] = *++p;
            } else {
                word[w++] = *p;
            }
        }
        word[w] = '\0';
        argv[n++] = word;
        if (quoted) {
            snprintf(err, errlen, "invalid value for exec_command: unterminated quote");
            return SP_E_PARSE;
        }
    }
    argv[n] = NULL;
    if (n == 0) {
        snprintf(err, errlen, "exec_command is not set: name the command exec jobs run");
        return SP_E_INVAL;
    }
    return 0;
}

/* Finds prog in PATH (unless it holds a slash); owned absolute-or-relative path or NULL. */
static char *resolve(const char *prog)
{
    if (strchr(prog, '/') != NULL)
        return access(prog, X_OK) == 0 ? strdup(prog) : NULL;
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        size_t n = strcspn(path, ":");
        char cand[4096];
        if (n > 0 && n + strlen(prog) + 2 < sizeof(cand)) {
            snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, path, prog);
            struct stat sb;
            if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) && access(cand, X_OK) == 0)
                return strdup(cand);
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

static int exec_create(const wrk_connector_config *cfg, void **state, char *err, size_t errlen)
{
    exec_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SP_E_NOMEM;
    int rc = split_command(wrk_connector_config_string(cfg, "command", ""), st->argv, err, errlen);
    if (rc < 0) {
        exec_destroy(st);
        return rc;
    }
    st->path = resolve(st->argv[0]);
    if (st->path == NULL) {
        snprintf(err, errlen, "invalid value for exec_command: %s is not an executable file%s",
                 st->argv[0], strchr(st->argv[0], '/') ? "" : " in PATH");
        exec_destroy(st);
        return SP_E_NOTFOUND;
    }
    const char *wd = wrk_connector_config_string(cfg, "workdir", NULL);
    if (wd != NULL && wd[0] != '\0' && (st->workdir = strdup(wd)) == NULL) {
        exec_destroy(st);
        return SP_E_NOMEM;
    }
    st->timeout_s = (long)wrk_connector_config_int(cfg, "timeout", 0);
    st->max_output = (size_t)wrk_connector_config_int(cfg, "max_output", 10 << 20);
    st->kill_grace_ms = (long)wrk_connector_config_int(cfg, "kill_grace", 2000);
    *state = st;
    return 0;
}

static int exec_check(void *state, char *msg, size_t msglen)
{
    exec_state *st = state;
    snprintf(msg, msglen, "runs %s", st->path);
    return access(st->path, X_OK) == 0 ? 0 : SP_E_NOTFOUND;
}

static bool secret_name(const char *entry)
{
    size_t n = strcspn(entry, "=");
    if (strncmp(entry, "SPOOL_WORKER_", 13) == 0 || strncmp(entry, "SPOOL_JOB_", 10) == 0)
        return true;
    static const char *const words[] = {"KEY", "SECRET", "PASSWORD", "TOKEN"};
    for (size_t w = 0; w < 4; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (strncasecmp(entry + i, words[w], wl) == 0)
                return true;
    }
    return false;
}

/* The child's environment (owned array; strings borrowed from environ or from extra). */
static char **child_env(char extra[3][160])
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 4, sizeof(*env));
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!secret_name(environ[i]))
            env[k++] = environ[i];
    for (int i = 0; i < 3; i++)
        env[k++] = extra[i];
    env[k] = NULL;
    return env;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kill_group(pid_t pid, long grace_ms)
{
    kill(-pid, SIGTERM);
    int64_t until = now_ms() + grace_ms;
    while (now_ms() < until) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* what the leader left behind */
            return;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
}

static void exec_run(void *state, const wrk_job *job, wrk_job_ctx *ctx, wrk_result *res)
{
    exec_state *st = state;
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, status = 0;
    char extra[3][160], errtail[EXEC_STDERR_KEEP + 1];
    size_t errlen = 0;
    char **env = NULL;
    sp_buf *output = NULL;
    pid_t pid = -1;
    bool reaped = false, too_big = false, timed_out = false, stopped = false;

    const char *input = json_object_to_json_string_ext(job->payload, JSON_C_TO_STRING_PLAIN);
    size_t input_len = strlen(input), written = 0;
    snprintf(extra[0], sizeof(extra[0]), "SPOOL_JOB_ID=%s", job->id);
    snprintf(extra[1], sizeof(extra[1]), "SPOOL_JOB_TYPE=%.140s", job->type);
    snprintf(extra[2], sizeof(extra[2]), "SPOOL_JOB_ATTEMPT=%d", job->attempt);
    if (sp_buf_new(&output, st->max_output) < 0 || (env = child_env(extra)) == NULL ||
        pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(res->error, sizeof(res->error), "exec: could not set up the command: %s",
                 strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(res->error, sizeof(res->error), "exec: could not start %s: %s", st->path,
                 strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to exec. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the worker blocks SIGTERM in all threads */
        signal(SIGPIPE, SIG_DFL);
        setpgid(0, 0);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(errp[1], 2);
        if (st->workdir != NULL && chdir(st->workdir) != 0)
            _exit(126);
        execve(st->path, st->argv, env);
        _exit(127);
    }
    setpgid(pid, pid); /* also from here, so a kill never misses the group */
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    in[0] = out[1] = errp[1] = -1;
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    if (input_len == 0) {
        close(in[1]);
        in[1] = -1;
    }

    int64_t deadline = st->timeout_s > 0 ? now_ms() + st->timeout_s * 1000 : INT64_MAX;
    char buf[16384];
    while (out[0] >= 0 || errp[0] >= 0) {
        if (wrk_job_should_stop(ctx)) {
            stopped = true;
            break;
        }
        if (now_ms() >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd pfd[3] = {{.fd = out[0], .events = POLLIN},
                                {.fd = errp[0], .events = POLLIN},
                                {.fd = in[1], .events = POLLOUT}};
        int pr = poll(pfd, 3, 100);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        if (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t w = write(in[1], input + written, input_len - written);
            if (w > 0)
                written += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                written = input_len; /* the command closed its stdin: fine */
            if (written >= input_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(out[0], buf, sizeof(buf));
            if (r > 0 && sp_buf_append(output, buf, (size_t)r) < 0) {
                too_big = true;
                break;
            }
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                close(out[0]);
                out[0] = -1;
            }
        }
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(errp[0], buf, sizeof(buf));
            if (r > 0) {
                /* Keep the last EXEC_STDERR_KEEP bytes. */
                size_t n = (size_t)r;
                if (n >= EXEC_STDERR_KEEP) {
                    memcpy(errtail, buf + n - EXEC_STDERR_KEEP, EXEC_STDERR_KEEP);
                    errlen = EXEC_STDERR_KEEP;
                } else {
                    if (errlen + n > EXEC_STDERR_KEEP) {
                        size_t drop = errlen + n - EXEC_STDERR_KEEP;
                        memmove(errtail, errtail + drop, errlen - drop);
                        errlen -= drop;
                    }
                    memcpy(errtail + errlen, buf, n);
                    errlen += n;
                }
            }
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                close(errp[0]);
                errp[0] = -1;
            }
        }
    }
    if (stopped || timed_out || too_big) {
        kill_group(pid, st->kill_grace_ms);
    } else {
        /* Output closed: wait for the exit, still watching for a stop. */
        while (!reaped) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                reaped = true;
                break;
            }
            if (wrk_job_should_stop(ctx) || now_ms() >= deadline) {
                stopped = wrk_job_should_stop(ctx);
                timed_out = !stopped;
                kill_group(pid, st->kill_grace_ms);
                break;
            }
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (!reaped) {
        waitpid(pid, &status, 0);
        reaped = true;
        kill(-pid, SIGKILL); /* anything left in the group */
    }
    errtail[errlen] = '\0';
    /* The last non-empty line of stderr makes the message. */
    while (errlen > 0 && (errtail[errlen - 1] == '\n' || errtail[errlen - 1] == '\r'))
        errtail[--errlen] = '\0';
    const char *lastline = strrchr(errtail, '\n');
    lastline = lastline != NULL ? lastline + 1 : errtail;

    if (stopped) {
        if (wrk_job_stop_reason(ctx) == WRK_STOP_TIMEOUT) {
            res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
            snprintf(res->error, sizeof(res->error), "exec: command killed: job timed out");
        } else {
            res->outcome = WRK_OUTCOME_CANCELLED;
            snprintf(res->error, sizeof(res->error), "exec: command killed: job stopped");
        }
    } else if (timed_out) {
        res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(res->error, sizeof(res->error), "exec: command killed after exec_timeout (%ld s)",
                 st->timeout_s);
    } else if (too_big) {
        res->outcome = WRK_OUTCOME_FAILED_PERMANENT;
        snprintf(res->error, sizeof(res->error),
                 "exec: command output exceeds exec_max_output (%zu bytes)", st->max_output);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        json_object *parsed = NULL;
        char why[64];
        size_t n = sp_buf_len(output);
        if (n > 0 && sp_json_parse(sp_buf_data(output), &parsed, why, sizeof(why)) == 0 &&
            parsed != NULL) {
            res->result = parsed;
        } else {
            const char *text = sp_buf_data(output);
            while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
                n--;
            res->result = json_object_new_string_len(text, (int)n);
        }
        res->outcome = WRK_OUTCOME_COMPLETED;
    } else if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        res->outcome =
            code == 64 || code == 65 ? WRK_OUTCOME_FAILED_PERMANENT : WRK_OUTCOME_FAILED_RETRYABLE;
        if (code == 127 && errlen == 0)
            snprintf(res->error, sizeof(res->error), "exec: could not run %s", st->path);
        else
            snprintf(res->error, sizeof(res->error), "exec: command exited with status %d%s%.900s",
                     code, lastline[0] ? ": " : "", lastline);
    } else {
        res->outcome = WRK_OUTCOME_FAILED_RETRYABLE;
        snprintf(res->error, sizeof(res->error), "exec: command killed by signal %d%s%.900s",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0, lastline[0] ? ": " : "", lastline);
    }
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    free(env);
    sp_buf_free(output);
}

const wrk_connector_ops wrk_connector_exec = {
    .name = "exec",
    .create = exec_create,
    .destroy = exec_destroy,
    .models = NULL,
    .check = exec_check,
    .run = exec_run,
};
