/* Unit tests for srv_router: matching, captures, 404/405 with Allow, and the route table
 * against docs/openapi.yaml (every route documented, every documented route served). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "srv_router.h"

static int h(struct srv_req *r)
{
    (void)r;
    return 0;
}

static const srv_route table[] = {
    {"GET", "/v1/jobs", "list", SRV_AUTH_READ, h},
    {"POST", "/v1/jobs", "submit", SRV_AUTH_SUBMIT, h},
    {"GET", "/v1/jobs/{id}", "get", SRV_AUTH_READ, h},
    {"POST", "/v1/jobs/{id}/cancel", "cancel", SRV_AUTH_SUBMIT, h},
    {"POST", "/v1/jobs/batch", "batch", SRV_AUTH_SUBMIT, h},
};
#define N (sizeof table / sizeof table[0])

static void test_match_and_capture(void **state)
{
    (void)state;
    srv_match m;
    char allow[64];
    assert_int_equal(srv_router_match(table, N, "GET", "/v1/jobs", &m, allow, sizeof allow),
                     SRV_ROUTE_FOUND);
    assert_string_equal(m.route->name, "list");
    assert_int_equal(srv_router_match(table, N, "GET", "/v1/jobs/abc", &m, allow, sizeof allow),
                     SRV_ROUTE_FOUND);
    assert_string_equal(m.route->name, "get");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "abc");
    assert_int_equal(
        srv_router_match(table, N, "POST", "/v1/jobs/x-1/cancel", &m, allow, sizeof allow),
        SRV_ROUTE_FOUND);
    assert_string_equal(m.params[0], "x-1");
    /* A literal segment wins when listed, but {id} also matches it for other methods. */
    assert_int_equal(srv_router_match(table, N, "POST", "/v1/jobs/batch", &m, allow, sizeof allow),
                     SRV_ROUTE_FOUND);
    assert_string_equal(m.route->name, "batch");
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    srv_match m;
    char allow[64];
    assert_int_equal(srv_router_match(table, N, "GET", "/v1/job", &m, allow, sizeof allow),
                     SRV_ROUTE_NOT_FOUND);
    assert_int_equal(srv_router_match(table, N, "GET", "/v1/jobs/", &m, allow, sizeof allow),
                     SRV_ROUTE_NOT_FOUND);
    assert_int_equal(srv_router_match(table, N, "GET", "/v1/jobs/a/b", &m, allow, sizeof allow),
                     SRV_ROUTE_NOT_FOUND);
    assert_int_equal(srv_router_match(table, N, "GET", "", &m, allow, sizeof allow),
                     SRV_ROUTE_NOT_FOUND);
    assert_int_equal(srv_router_match(table, N, "DELETE", "/v1/jobs", &m, allow, sizeof allow),
                     SRV_ROUTE_BAD_METHOD);
    assert_string_equal(allow, "GET, POST");
    /* A segment longer than the bound never matches a parameter. */
    char longpath[400] = "/v1/jobs/";
    memset(longpath + 9, 'a', 250);
    assert_int_equal(srv_router_match(table, N, "GET", longpath, &m, allow, sizeof allow),
                     SRV_ROUTE_NOT_FOUND);
}

/* Reads path/method pairs out of the OpenAPI document: paths at two spaces of indent,
 * methods at four. */
static size_t doc_routes(char out[][2][128], size_t max)
{
    FILE *f = fopen(SPOOL_SOURCE_DIR "/docs/openapi.yaml", "r");
    assert_non_null(f);
    char line[1024], path[128] = "";
    size_t n = 0;
    bool in_paths = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "paths:", 6) == 0) {
            in_paths = true;
            continue;
        }
        if (in_paths && line[0] != ' ' && line[0] != '\n')
            break;
        if (!in_paths)
            continue;
        if (strncmp(line, "  /", 3) == 0) {
            sscanf(line + 2, "%127[^:]", path);
        } else if (strncmp(line, "    ", 4) == 0 && line[4] != ' ') {
            char m[16];
            if (sscanf(line + 4, "%15[a-z]:", m) == 1 &&
                (!strcmp(m, "get") || !strcmp(m, "post") || !strcmp(m, "put") ||
                 !strcmp(m, "delete") || !strcmp(m, "patch")) &&
                n < max) {
                snprintf(out[n][0], 128, "%s", m);
                snprintf(out[n][1], 128, "%s", path);
                n++;
            }
        }
    }
    fclose(f);
    return n;
}

static void test_openapi_matches_router(void **state)
{
    (void)state;
    static char doc[128][2][128];
    size_t n = doc_routes(doc, 128);
    assert_true(n > 0);
    for (size_t i = 0; i < srv_nroutes; i++) {
        bool found = false;
        for (size_t j = 0; j < n; j++)
            found = found || (!strcasecmp(doc[j][0], srv_routes[i].method) &&
                              !strcmp(doc[j][1], srv_routes[i].pattern));
        if (!found)
            fail_msg("route %s %s is not in docs/openapi.yaml", srv_routes[i].method,
                     srv_routes[i].pattern);
    }
    for (size_t j = 0; j < n; j++) {
        bool found = false;
        for (size_t i = 0; i < srv_nroutes; i++)
            found = found || (!strcasecmp(doc[j][0], srv_routes[i].method) &&
                              !strcmp(doc[j][1], srv_routes[i].pattern));
        if (!found)
            fail_msg("docs/openapi.yaml documents %s %s, which spoold does not serve", doc[j][0],
                     doc[j][1]);
    }
    assert_int_equal(n, srv_nroutes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_and_capture),
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_openapi_matches_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
