/*
 * srv_router: route matching (see srv_router.h).
 */
#include "srv_router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Matches one pattern against a path; captures {name} segments into m. */
static bool pattern_match(const char *pat, const char *path, srv_match *m)
{
    m->nparams = 0;
    while (*pat != '\0' && *path != '\0') {
        if (*pat != '/' || *path != '/')
            return false;
        pat++;
        path++;
        const char *pe = strchr(pat, '/');
        const char *se = strchr(path, '/');
        size_t plen = pe ? (size_t)(pe - pat) : strlen(pat);
        size_t slen = se ? (size_t)(se - path) : strlen(path);
        if (plen > 1 && pat[0] == '{' && pat[plen - 1] == '}') {
            if (slen == 0 || slen > SRV_ROUTER_MAX_SEGMENT || m->nparams >= SRV_ROUTER_MAX_PARAMS)
                return false;
            memcpy(m->params[m->nparams], path, slen);
            m->params[m->nparams][slen] = '\0';
            m->nparams++;
        } else if (plen != slen || memcmp(pat, path, plen) != 0) {
            return false;
        }
        pat += plen;
        path += slen;
    }
    return *pat == '\0' && *path == '\0';
}

srv_route_result srv_router_match(const srv_route *table, size_t n, const char *method,
                                  const char *path, srv_match *m, char *allow, size_t allowlen)
{
    bool path_known = false;
    size_t used = 0;
    if (allowlen > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        srv_match tmp;
        if (!pattern_match(table[i].pattern, path, &tmp))
            continue;
        if (strcmp(table[i].method, method) == 0) {
            *m = tmp;
            m->route = &table[i];
            return SRV_ROUTE_FOUND;
        }
        path_known = true;
        if (allowlen > used) {
            int w =
                snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", table[i].method);
            if (w > 0)
                used += (size_t)w < allowlen - used ? (size_t)w : allowlen - used - 1;
        }
    }
    return path_known ? SRV_ROUTE_BAD_METHOD : SRV_ROUTE_NOT_FOUND;
}
