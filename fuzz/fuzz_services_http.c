/* libFuzzer target for the services' request parsing: the first line is "METHOD PATH" for the
 * route matcher, the rest a request body for the JSON object parser and the field readers,
 * whose answers must always be a status and a JSON document, and for svc_json_valid() against
 * jansson. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../services/lib/http.h"

static void h(const svc_req *req, svc_resp *resp)
{
    (void)req, (void)resp;
}

static const svc_route routes[] = {
    {"GET", "/products", h},      {"POST", "/products", h},        {"GET", "/products/{id}", h},
    {"PUT", "/products/{id}", h}, {"DELETE", "/products/{id}", h}, {"GET", "/a/{x}/b/{y}", h},
    {"PATCH", "/orders/{id}", h},
};

static void check_resp(svc_resp *r, bool ok)
{
    if (!ok && (r->status != 400 || !json_is_object(r->json)))
        abort();
    json_decref(r->json);
    *r = (svc_resp){0};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t line = nl ? (size_t)(nl - data) : size;
    char *first = malloc(line + 1);
    if (!first)
        return 0;
    memcpy(first, data, line);
    first[line] = '\0';
    char *sp = strchr(first, ' ');
    const char *method = first, *path = "/";
    if (sp) {
        *sp = '\0';
        path = sp + 1;
    }
    const svc_route *r = NULL;
    const char *params[SVC_MAX_PARAMS];
    size_t np = 0;
    char buf[64], allow[96];
    svc_match m = svc_route_match(routes, sizeof routes / sizeof routes[0], method, path, &r,
                                  params, &np, buf, sizeof buf, allow, sizeof allow);
    if (m == SVC_MATCH_OK) {
        if (!r || np > SVC_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < np; i++)
            if (params[i] < buf || params[i] + strlen(params[i]) >= buf + sizeof buf)
                abort();
    }
    int64_t v;
    (void)svc_parse_int(path, INT64_MIN, INT64_MAX, &v);
    char host[64];
    uint16_t port;
    (void)svc_parse_listen(path, host, sizeof host, &port);
    free(first);

    const char *body = nl ? (const char *)nl + 1 : "";
    size_t len = nl ? size - line - 1 : 0;
    /* The gateway's check of an upstream answer accepts whatever jansson parses (it may also
     * accept what jansson refuses beyond the grammar: \u0000, a lone surrogate, a number out
     * of range). Not with a NUL byte: jansson skips one after a number, which is not JSON. */
    json_error_t je;
    json_t *any = memchr(body, '\0', len) ? NULL : json_loadb(body, len, 0, &je);
    if (any && !svc_json_valid(body, len))
        abort();
    json_decref(any);
    svc_resp resp = {0};
    json_t *o = svc_json_object(body, len, &resp);
    if (!o) {
        check_resp(&resp, false);
        return 0;
    }
    const char *s;
    double d;
    const char *fields[] = {"name", "price", "quantity", "email", "status", "x"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        check_resp(&resp, svc_json_str(o, fields[i], i & 1, 64, &s, &resp));
        check_resp(&resp, svc_json_int(o, fields[i], i & 1, -5, 1000, &v, &resp));
        check_resp(&resp, svc_json_num(o, fields[i], i & 1, 0, 1e9, &d, &resp));
    }
    svc_resp_error(&resp, 404, "no route for %.*s", (int)(len > 4096 ? 4096 : len), body);
    if (!json_string_value(json_object_get(resp.json, "detail")))
        abort();
    json_decref(resp.json);
    json_decref(o);
    return 0;
}
