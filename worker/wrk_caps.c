/* wrk_caps: hardware detection and the capabilities object; see wrk_caps.h. */
#include "wrk_caps.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp_json.h"

int wrk_caps_parse_meminfo(const char *text, int64_t *ram_kib)
{
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, "MemTotal:", 9) == 0) {
            char *end;
            errno = 0;
            long long v = strtoll(p + 9, &end, 10);
            if (errno != 0 || end == p + 9 || v <= 0)
                return SP_E_PARSE;
            *ram_kib = v;
            return 0;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return SP_E_NOTFOUND;
}

int wrk_caps_parse_nvidia_smi(const char *text, wrk_hardware *hw)
{
    int added = 0;
    const char *line = text;
    while (line != NULL && *line != '\0' && hw->ngpus < WRK_MAX_GPUS) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        const char *comma = memchr(line, ',', len);
        /* The name may itself hold commas in odd cases: the memory is after the last one. */
        for (const char *c = comma; c != NULL && c < line + len;
             c = memchr(c + 1, ',', (size_t)(line + len - c - 1)))
            comma = c;
        if (comma != NULL) {
            char num[32];
            size_t nlen = (size_t)(line + len - comma - 1);
            if (nlen < sizeof(num)) {
                memcpy(num, comma + 1, nlen);
                num[nlen] = '\0';
                char *s = num;
                while (isspace((unsigned char)*s))
                    s++;
                char *end;
                errno = 0;
                double mib = strtod(s, &end);
                while (isspace((unsigned char)*end))
                    end++;
                const char *name = line;
                size_t namelen = (size_t)(comma - line);
                while (namelen > 0 && isspace((unsigned char)*name)) {
                    name++;
                    namelen--;
                }
                while (namelen > 0 && isspace((unsigned char)name[namelen - 1]))
                    namelen--;
                if (errno == 0 && end != s && *end == '\0' && mib > 0 && namelen > 0) {
                    wrk_gpu *g = &hw->gpus[hw->ngpus++];
                    if (namelen >= sizeof(g->name))
                        namelen = sizeof(g->name) - 1;
                    memcpy(g->name, name, namelen);
                    g->name[namelen] = '\0';
                    g->memory_mib = (int64_t)mib;
                    added++;
                }
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return added;
}

/* Reads at most cap - 1 bytes of a small file; NUL-terminated. */
static int read_small_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return SP_E_IO;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

void wrk_caps_detect(wrk_hardware *hw, bool gpus)
{
    char buf[8192];
    memset(hw, 0, sizeof(*hw));
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    hw->cpu_cores = n > 0 ? (int)n : 0;
    if (read_small_file("/proc/meminfo", buf, sizeof(buf)) == 0 &&
        wrk_caps_parse_meminfo(buf, &hw->ram_kib) < 0)
        hw->ram_kib = 0;
    if (!gpus)
        return;
    /* A constant command line: nothing from outside reaches the shell. */
    FILE *p = popen("nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits "
                    "2>/dev/null",
                    "r");
    if (p == NULL)
        return;
    size_t len = fread(buf, 1, sizeof(buf) - 1, p);
    buf[len] = '\0';
    int status = pclose(p);
    if (status == 0)
        (void)wrk_caps_parse_nvidia_smi(buf, hw);
}

/* A size in GB with one decimal, written as such: 79.6, not 79.599999999999994. */
static json_object *gb_json(double v)
{
    char text[32];
    double r = round(v * 10.0) / 10.0;
    snprintf(text, sizeof(text), "%.1f", r);
    return json_object_new_double_s(r, text);
}

json_object *wrk_caps_hardware_json(const wrk_hardware *hw)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return NULL;
    json_object_object_add(o, "cpu_cores", json_object_new_int(hw->cpu_cores));
    if (hw->ram_kib > 0)
        json_object_object_add(o, "ram_gb", gb_json((double)hw->ram_kib / 1048576.0));
    json_object_object_add(o, "gpu_count", json_object_new_int(hw->ngpus));
    if (hw->ngpus > 0) {
        int64_t best = 0;
        json_object *arr = json_object_new_array();
        for (int i = 0; i < hw->ngpus; i++) {
            json_object *g = json_object_new_object();
            json_object_object_add(g, "name", json_object_new_string(hw->gpus[i].name));
            json_object_object_add(g, "memory_gb", gb_json(hw->gpus[i].memory_mib / 1024.0));
            json_object_array_add(arr, g);
            if (hw->gpus[i].memory_mib > best)
                best = hw->gpus[i].memory_mib;
        }
        /* A job needs its memory on one GPU: advertise the largest single GPU. */
        json_object_object_add(o, "gpu_memory_gb", gb_json(best / 1024.0));
        json_object_object_add(o, "gpu_model", json_object_new_string(hw->gpus[0].name));
        json_object_object_add(o, "gpus", arr);
    } else {
        json_object_object_add(o, "gpu_memory_gb", json_object_new_int(0));
    }
    return o;
}

static int add_string_item(void *arg, const char *item)
{
    json_object *arr = arg;
    return json_object_array_add(arr, json_object_new_string(item)) == 0 ? 0 : SP_E_NOMEM;
}

/* Merges src's keys into dst; objects under the same key merge one level deep. */
static void merge_labels(json_object *dst, json_object *src)
{
    json_object_object_foreach(src, key, val)
    {
        json_object *have = NULL;
        if (json_object_is_type(val, json_type_object) &&
            json_object_object_get_ex(dst, key, &have) &&
            json_object_is_type(have, json_type_object)) {
            json_object_object_foreach(val, k2, v2)
            {
                json_object_object_add(have, k2, json_object_get(v2));
            }
        } else {
            json_object_object_add(dst, key, json_object_get(val));
        }
    }
}

int wrk_caps_build(const wrk_settings *s, const wrk_hardware *hw, json_object *models,
                   json_object **out)
{
    int rc = 0;
    json_object *labels = NULL;
    json_object *caps = json_object_new_object();
    json_object *services = json_object_new_array();
    if (caps == NULL || services == NULL) {
        json_object_put(services);
        rc = SP_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < s->nconnectors; i++)
        json_object_array_add(services, json_object_new_string(s->connectors[i]));
    json_object_object_add(caps, "services", services);
    json_object_object_add(caps, "models",
                           models != NULL ? json_object_get(models) : json_object_new_object());
    json_object_object_add(caps, "hardware", wrk_caps_hardware_json(hw));

    if (s->customer_isolation != NULL || s->allowed_customers != NULL ||
        s->denied_customers != NULL) {
        json_object *access = json_object_new_object();
        json_object_object_add(access, "isolation",
                               json_object_new_string(s->customer_isolation != NULL
                                                          ? s->customer_isolation
                                                          : "loose"));
        if (s->allowed_customers != NULL && s->allowed_customers[0] != '\0') {
            json_object *arr = json_object_new_array();
            json_object_object_add(access, "allowed_customers", arr);
            rc = wrk_config_split_list(s->allowed_customers, add_string_item, arr);
        }
        if (rc == 0 && s->denied_customers != NULL && s->denied_customers[0] != '\0') {
            json_object *arr = json_object_new_array();
            json_object_object_add(access, "denied_customers", arr);
            rc = wrk_config_split_list(s->denied_customers, add_string_item, arr);
        }
        json_object_object_add(caps, "customer_access", access);
        if (rc < 0)
            goto out;
    }
    if (s->labels != NULL) {
        char err[128];
        if (sp_json_parse(s->labels, &labels, err, sizeof(err)) < 0 ||
            !json_object_is_type(labels, json_type_object)) {
            rc = SP_E_PARSE;
            goto out;
        }
        merge_labels(caps, labels);
    }
out:
    json_object_put(labels);
    if (rc < 0) {
        json_object_put(caps);
        return rc;
    }
    *out = caps;
    return 0;
}
