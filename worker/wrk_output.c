/* wrk_output: the output store (local directory or S3-compatible bucket); see wrk_output.h. */
#include "wrk_output.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "wrk_media.h"

struct wrk_output {
    bool s3;
    char *dir;        /* local: absolute directory */
    char *public_url; /* without a trailing slash; may be NULL */
    size_t max_bytes;
    /* s3 */
    char *endpoint; /* without a trailing slash */
    char *bucket, *region, *access_key, *secret_key, *prefix;
    bool path_style;
    long timeout_s;
};

static char *dup_trim_slash(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return NULL;
    char *d = strdup(s);
    if (d != NULL) {
        size_t n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
            d[--n] = '\0';
    }
    return d;
}

void wrk_output_free(wrk_output *o)
{
    if (o == NULL)
        return;
    free(o->dir);
    free(o->public_url);
    free(o->endpoint);
    free(o->bucket);
    free(o->region);
    free(o->access_key);
    if (o->secret_key != NULL) {
        memset(o->secret_key, 0, strlen(o->secret_key));
        free(o->secret_key);
    }
    free(o->prefix);
    free(o);
}

int wrk_output_new(const sp_config *cfg, wrk_output **out, char *err, size_t errlen)
{
    wrk_output *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return SP_E_NOMEM;
    o->s3 = strcmp(sp_config_string(cfg, "output_store"), "s3") == 0;
    o->public_url = dup_trim_slash(sp_config_string(cfg, "output_public_url"));
    o->max_bytes = (size_t)sp_config_int(cfg, "output_max_bytes");
    if (o->s3) {
        o->endpoint = dup_trim_slash(sp_config_string(cfg, "output_s3_endpoint"));
        o->bucket = strdup(sp_config_string(cfg, "output_s3_bucket"));
        o->region = strdup(sp_config_string(cfg, "output_s3_region"));
        o->access_key = strdup(sp_config_string(cfg, "output_s3_access_key"));
        o->secret_key = strdup(sp_config_string(cfg, "output_s3_secret_key"));
        o->prefix = strdup(sp_config_string(cfg, "output_s3_prefix"));
        o->path_style = sp_config_bool(cfg, "output_s3_path_style");
        o->timeout_s = (long)sp_config_int(cfg, "output_timeout");
        if (o->endpoint == NULL || o->bucket == NULL || o->region == NULL ||
            o->access_key == NULL || o->secret_key == NULL || o->prefix == NULL) {
            wrk_output_free(o);
            return SP_E_NOMEM;
        }
        if (strncmp(o->endpoint, "https://", 8) != 0 && strncmp(o->endpoint, "http://", 7) != 0) {
            snprintf(err, errlen, "invalid value for output_s3_endpoint: use an http(s):// URL");
            wrk_output_free(o);
            return SP_E_INVAL;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "could not initialize libcurl");
            wrk_output_free(o);
            return SP_E_NOMEM;
        }
    } else {
        const char *dir = sp_config_string(cfg, "output_dir");
        char abs[PATH_MAX];
        if (dir == NULL || dir[0] == '\0') {
            snprintf(err, errlen, "output_dir is empty");
            wrk_output_free(o);
            return SP_E_INVAL;
        }
        if (dir[0] != '/') {
            if (getcwd(abs, sizeof(abs)) == NULL || strlen(abs) + strlen(dir) + 2 > sizeof(abs)) {
                snprintf(err, errlen, "output_dir: could not make %s absolute", dir);
                wrk_output_free(o);
                return SP_E_INVAL;
            }
            strcat(abs, "/");
            strcat(abs, dir);
            o->dir = dup_trim_slash(abs);
        } else {
            o->dir = dup_trim_slash(dir);
        }
        if (o->dir == NULL) {
            wrk_output_free(o);
            return SP_E_NOMEM;
        }
    }
    *out = o;
    return 0;
}

void wrk_output_safe_name(const char *hint, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen == 0)
        return;
    const char *base = hint != NULL ? strrchr(hint, '/') : NULL;
    const char *p = base != NULL ? base + 1 : hint;
    for (; p != NULL && *p != '\0' && n + 1 < outlen && n < 100; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c == '-' || c == '_' || (c == '.' && n > 0))
            out[n++] = (char)c;
        else if (n > 0 && out[n - 1] != '_')
            out[n++] = '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, outlen, "output");
}

/* mkdir -p for the parent directories of path (path itself excluded). */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int write_local(wrk_output *o, const char *rel, const void *data, size_t len, char *path,
                       size_t pathlen, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 32];
    if ((size_t)snprintf(path, pathlen, "%s/%s", o->dir, rel) >= pathlen) {
        snprintf(err, errlen, "output path too long");
        return SP_E_RANGE;
    }
    if (make_parents(path) != 0) {
        snprintf(err, errlen, "could not create the directory for %s: %s", path, strerror(errno));
        return SP_E_IO;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "could not create %s: %s", tmp, strerror(errno));
        return SP_E_IO;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "could not write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return SP_E_IO;
        }
        p += w;
        left -= (size_t)w;
    }
    /* The job's completion refers to this file: make it durable before it is reported. */
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "could not flush %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return SP_E_IO;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "could not rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return SP_E_IO;
    }
    return 0;
}

/* The object URL at the endpoint: path style, or virtual-hosted (bucket.host). */
static void s3_url(const wrk_output *o, const char *key, char *out, size_t outlen)
{
    if (o->path_style) {
        snprintf(out, outlen, "%s/%s/%s", o->endpoint, o->bucket, key);
        return;
    }
    const char *host = strstr(o->endpoint, "://");
    size_t scheme = host != NULL ? (size_t)(host - o->endpoint) + 3 : 0;
    snprintf(out, outlen, "%.*s%s.%s/%s", (int)scheme, o->endpoint, o->bucket, o->endpoint + scheme,
             key);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

/* PUT (data != NULL) or HEAD the bucket (data == NULL, key ""), signed with SigV4. */
static int s3_request(wrk_output *o, const char *key, const void *data, size_t len,
                      const char *media_type, long *status, char *err, size_t errlen)
{
    char url[4096], sigv4[128], ctype[160], userpwd[600];
    int rc = 0;
    struct curl_slist *headers = NULL;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return SP_E_NOMEM;
    s3_url(o, key, url, sizeof(url));
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", o->region);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", o->access_key, o->secret_key);
    snprintf(ctype, sizeof(ctype), "Content-Type: %s",
             media_type != NULL ? media_type : "application/octet-stream");
    /* The body is not hashed into the signature (allowed over TLS, and by every
     * S3-compatible store); libcurl signs this header's value. */
    headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    headers = curl_slist_append(headers, ctype);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_s);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (data != NULL) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    CURLcode cc = curl_easy_perform(c);
    memset(userpwd, 0, sizeof(userpwd));
    if (cc != CURLE_OK) {
        /* curl's message names the host and the failure, never the credentials. */
        snprintf(err, errlen, "s3 %s %s/%s: %s", data != NULL ? "upload to" : "request to",
                 o->bucket, key, curl_easy_strerror(cc));
        rc = SP_E_IO;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return rc;
}

int wrk_output_store(wrk_output *o, const char *job_id, int seq, const void *data, size_t len,
                     const char *name_hint, const char *media_type, json_object **descriptor,
                     char *err, size_t errlen)
{
    char name[160], safe[128], rel[256], path[PATH_MAX], url[4600];
    int w = 0, h = 0, rc;
    if (len > o->max_bytes) {
        snprintf(err, errlen, "output of %zu bytes exceeds output_max_bytes (%zu)", len,
                 o->max_bytes);
        return SP_E_RANGE;
    }
    const char *detected = wrk_media_detect(data, len);
    if (media_type == NULL || media_type[0] == '\0')
        media_type = detected != NULL ? detected : "application/octet-stream";
    wrk_output_safe_name(name_hint, safe, sizeof(safe));
    if (strchr(safe, '.') == NULL) {
        const char *ext = wrk_media_extension(media_type);
        size_t n = strlen(safe);
        if (n + strlen(ext) + 2 <= sizeof(safe))
            snprintf(safe + n, sizeof(safe) - n, ".%s", ext);
    }
    if (seq > 1)
        snprintf(name, sizeof(name), "%d-%s", seq, safe);
    else
        snprintf(name, sizeof(name), "%s", safe);
    snprintf(rel, sizeof(rel), "%s/%s", job_id, name);

    if (o->s3) {
        char key[1024];
        long status = 0;
        snprintf(key, sizeof(key), "%s%s", o->prefix, rel);
        rc = s3_request(o, key, data != NULL ? data : "", len, media_type, &status, err, errlen);
        if (rc < 0)
            return rc;
        if (status < 200 || status > 299) {
            snprintf(err, errlen, "s3 upload to %s/%s: HTTP %ld", o->bucket, key, status);
            return SP_E_IO;
        }
        if (o->public_url != NULL)
            snprintf(url, sizeof(url), "%s/%s", o->public_url, key);
        else
            s3_url(o, key, url, sizeof(url));
    } else {
        rc = write_local(o, rel, data != NULL ? data : "", len, path, sizeof(path), err, errlen);
        if (rc < 0)
            return rc;
        if (o->public_url != NULL)
            snprintf(url, sizeof(url), "%s/%s", o->public_url, rel);
        else
            snprintf(url, sizeof(url), "file://%s", path);
    }
    json_object *d = json_object_new_object();
    if (d == NULL)
        return SP_E_NOMEM;
    json_object_object_add(d, "url", json_object_new_string(url));
    json_object_object_add(d, "media_type", json_object_new_string(media_type));
    json_object_object_add(d, "size", json_object_new_int64((int64_t)len));
    if (wrk_media_dimensions(data, len, &w, &h) == 0) {
        json_object_object_add(d, "width", json_object_new_int(w));
        json_object_object_add(d, "height", json_object_new_int(h));
    }
    json_object_object_add(d, "name", json_object_new_string(name));
    *descriptor = d;
    return 0;
}

int wrk_output_check(wrk_output *o, char *msg, size_t msglen)
{
    if (o->s3) {
        long status = 0;
        char err[512];
        if (s3_request(o, "", NULL, 0, NULL, &status, err, sizeof(err)) < 0) {
            snprintf(msg, msglen, "%s", err);
            return SP_E_IO;
        }
        if (status < 200 || status > 299) {
            snprintf(msg, msglen,
                     "s3 bucket %s at %s: HTTP %ld (check the bucket, region and keys)", o->bucket,
                     o->endpoint, status);
            return SP_E_IO;
        }
        snprintf(msg, msglen, "s3 bucket %s at %s answers", o->bucket, o->endpoint);
        return 0;
    }
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s/.spool-check", o->dir);
    if (make_parents(probe) != 0) {
        snprintf(msg, msglen, "could not create %s: %s", o->dir, strerror(errno));
        return SP_E_IO;
    }
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(msg, msglen, "%s is not writable: %s", o->dir, strerror(errno));
        return SP_E_IO;
    }
    close(fd);
    unlink(probe);
    snprintf(msg, msglen, "local directory %s is writable", o->dir);
    return 0;
}
