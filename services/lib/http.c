/* The services' HTTP server over libmicrohttpd: a thread pool answers requests; bodies are
 * buffered up to the limit (the rest of a larger body is read and dropped, so that the client
 * reads the 413 instead of a reset); handlers see one parsed request and fill one response. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A body larger than this is not even read: the connection is answered 413 and closed. */
#define DISCARD_LIMIT (64u * 1024 * 1024)

/* The request series: one slot per route entry, then one per (built-in route, method). A
 * slot's counters are indexed by status code - 100 (100..599), each registered once, by the
 * first request that ends with that code, and published with a release store so that later
 * requests find it with an acquire load and update it without a lock. */
#define N_METHODS 8
static const char *const method_names[N_METHODS] = {"GET",   "HEAD",   "POST",    "PUT",
                                                    "PATCH", "DELETE", "OPTIONS", "other"};
enum { X_HEALTHZ, X_READYZ, X_METRICS, X_UNMATCHED, N_EXTRA };
static const char *const extra_routes[N_EXTRA] = {"/healthz", "/readyz", "/metrics", "unmatched"};
#define N_CODES 500

typedef struct slot {
    const char *route, *method;
    _Atomic(weir_histogram *) duration;
} slot;

struct svc_server {
    struct MHD_Daemon *d;
    svc_server_opts o;
    atomic_uint inflight;
    char addr[96];
    slot *slots;                    /* o.n_routes + N_EXTRA * N_METHODS, when o.metrics */
    _Atomic(weir_counter *) *codes; /* N_CODES per slot */
    weir_gauge *inflight_g;
};

typedef struct reqstate {
    char *buf;
    size_t len, cap;
    bool too_big;
    int status; /* the status answered, 0 before */
    size_t si;  /* its series slot */
    struct timespec start;
    char params[512];
} reqstate;

/* ---------------------------------------------------------------- routing */

svc_match svc_route_match(const svc_route *routes, size_t n, const char *method, const char *path,
                          const svc_route **route, const char **params, size_t *n_params, char *buf,
                          size_t buf_size, char *allow, size_t allow_size)
{
    bool path_seen = false;
    size_t allow_len = 0;
    if (allow_size)
        allow[0] = '\0';
    if (path[0] != '/')
        return SVC_MATCH_NO_PATH;
    for (size_t r = 0; r < n; r++) {
        const char *p = routes[r].pattern, *u = path;
        size_t np = 0, used = 0;
        bool ok = true, overflow = false;
        while (ok) {
            if (*p == '\0' || *u == '\0') {
                ok = *p == '\0' && *u == '\0';
                break;
            }
            if (*p != '/' || *u != '/') {
                ok = false;
                break;
            }
            p++, u++;
            size_t plen = strcspn(p, "/"), ulen = strcspn(u, "/");
            if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
                if (ulen == 0) {
                    ok = false;
                    break;
                }
                if (np == SVC_MAX_PARAMS || used + ulen + 1 > buf_size) {
                    overflow = true;
                } else {
                    memcpy(buf + used, u, ulen);
                    buf[used + ulen] = '\0';
                    params[np++] = buf + used;
                    used += ulen + 1;
                }
            } else if (plen != ulen || memcmp(p, u, plen) != 0) {
                ok = false;
                break;
            }
            p += plen, u += ulen;
        }
        if (!ok)
            continue;
        if (overflow)
            return SVC_MATCH_BAD_PATH;
        if (strcmp(routes[r].method, method) == 0) {
            *route = &routes[r];
            *n_params = np;
            return SVC_MATCH_OK;
        }
        path_seen = true;
        size_t ml = strlen(routes[r].method);
        if (allow_len + ml + 3 < allow_size && !strstr(allow, routes[r].method)) {
            if (allow_len) {
                memcpy(allow + allow_len, ", ", 2);
                allow_len += 2;
            }
            memcpy(allow + allow_len, routes[r].method, ml + 1);
            allow_len += ml;
        }
    }
    return path_seen ? SVC_MATCH_NO_METHOD : SVC_MATCH_NO_PATH;
}

/* ---------------------------------------------------------------- responses */

const char *svc_status_name(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 415: return "unsupported_media_type";
    case 500: return "internal";
    case 502: return "bad_gateway";
    case 503: return "service_unavailable";
    case 504: return "gateway_timeout";
    default: return status >= 500 ? "server_error" : "error";
    }
}

void svc_resp_free(svc_resp *resp)
{
    json_decref(resp->json);
    resp->json = NULL;
    free(resp->raw);
    resp->raw = NULL;
    resp->raw_len = 0;
}

void svc_resp_json(svc_resp *resp, int status, json_t *json)
{
    svc_resp_free(resp);
    resp->json = json;
    resp->status = json || status == 204 ? status : 500;
}

void svc_resp_raw(svc_resp *resp, int status, char *raw, size_t len)
{
    svc_resp_free(resp);
    resp->raw = raw;
    resp->raw_len = raw ? len : 0;
    resp->status = raw || status == 204 ? status : 500;
}

void svc_resp_error(svc_resp *resp, int status, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    int full = vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* A detail cut inside a UTF-8 sequence would make the JSON string invalid: drop the
     * last character when its bytes are not all there. */
    size_t n = strlen(detail), i = n;
    while (i && ((unsigned char)detail[i - 1] & 0xC0) == 0x80)
        i--;
    if (full >= (int)sizeof detail && i) {
        unsigned char lead = (unsigned char)detail[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (i - 1 + need > n)
            detail[i - 1] = '\0';
    }
    json_t *j = json_pack("{s:s, s:s?}", "error", svc_status_name(status), "detail", detail);
    if (!j) { /* a detail that echoes input which is not UTF-8: keep its ASCII */
        for (char *d = detail; *d; d++)
            if ((unsigned char)*d >= 0x80)
                *d = '?';
        j = json_pack("{s:s, s:s}", "error", svc_status_name(status), "detail", detail);
    }
    svc_resp_json(resp, status, j);
}

/* ---------------------------------------------------------------- requests */

const char *svc_req_query(const svc_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *svc_req_header(const svc_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

json_t *svc_json_object(const char *body, size_t len, svc_resp *resp)
{
    json_error_t e;
    if (len == 0) {
        svc_resp_error(resp, 400, "empty body: a JSON object is expected");
        return NULL;
    }
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        svc_resp_error(resp, 400, "bad JSON at line %d, column %d: %s", e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        svc_resp_error(resp, 400, "a JSON object is expected");
        return NULL;
    }
    return j;
}

static const json_t *field(const json_t *obj, const char *name, bool required, bool *absent,
                           svc_resp *resp)
{
    const json_t *v = json_object_get(obj, name);
    *absent = v == NULL || json_is_null(v);
    if (*absent && required)
        svc_resp_error(resp, 400, "field '%s' is missing", name);
    return v;
}

bool svc_json_str(const json_t *obj, const char *name, bool required, size_t max_len,
                  const char **out, svc_resp *resp)
{
    bool absent;
    const json_t *v = field(obj, name, required, &absent, resp);
    if (absent)
        return !required;
    if (!json_is_string(v)) {
        svc_resp_error(resp, 400, "field '%s' must be a string", name);
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n) {
        svc_resp_error(resp, 400, "field '%s' must not contain NUL", name);
        return false;
    }
    if (n > max_len) {
        svc_resp_error(resp, 400, "field '%s' is longer than %zu bytes", name, max_len);
        return false;
    }
    *out = s;
    return true;
}

bool svc_json_int(const json_t *obj, const char *name, bool required, int64_t min, int64_t max,
                  int64_t *out, svc_resp *resp)
{
    bool absent;
    const json_t *v = field(obj, name, required, &absent, resp);
    if (absent)
        return !required;
    if (!json_is_integer(v)) {
        svc_resp_error(resp, 400, "field '%s' must be an integer", name);
        return false;
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        svc_resp_error(resp, 400, "field '%s' must be between %lld and %lld", name, (long long)min,
                       (long long)max);
        return false;
    }
    *out = i;
    return true;
}

bool svc_json_num(const json_t *obj, const char *name, bool required, double min, double max,
                  double *out, svc_resp *resp)
{
    bool absent;
    const json_t *v = field(obj, name, required, &absent, resp);
    if (absent)
        return !required;
    if (!json_is_number(v)) {
        svc_resp_error(resp, 400, "field '%s' must be a number", name);
        return false;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        svc_resp_error(resp, 400, "field '%s' must be between %g and %g", name, min, max);
        return false;
    }
    *out = d;
    return true;
}

/* ---------------------------------------------------------------- JSON validation */

typedef const unsigned char *cursor;

static cursor skip_ws(cursor p, cursor end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* One UTF-8 sequence of 2 to 4 bytes starting at p (its lead byte >= 0x80): shortest form, no
 * surrogates, at most U+10FFFF. Returns the byte after it, or NULL. */
static cursor utf8_seq(cursor p, cursor end)
{
    unsigned char c = *p;
    size_t n = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (!n || (size_t)(end - p) < n)
        return NULL;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return NULL;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return NULL;
    return p + n;
}

/* A string from its opening quote; the byte after its closing quote, or NULL. */
static cursor scan_string(cursor p, cursor end)
{
    for (p++; p < end;) {
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (end - p < 2)
                return NULL;
            unsigned char e = p[1];
            if (e == 'u') {
                if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                    return NULL;
                p += 6;
            } else if (strchr("\"\\/bfnrt", e) && e) {
                p += 2;
            } else {
                return NULL;
            }
        } else if (c >= 0x80) {
            if (!(p = utf8_seq(p, end)))
                return NULL;
        } else {
            p++;
        }
    }
    return NULL;
}

static cursor digits(cursor p, cursor end)
{
    cursor q = p;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    return q == p ? NULL : q;
}

/* A number, a literal or a string; the byte after it, or NULL. */
static cursor scan_scalar(cursor p, cursor end)
{
    if (*p == '"')
        return scan_string(p, end);
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(end - p) >= n && memcmp(p, lits[i], n) == 0)
            return p + n;
    }
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!(p = digits(p, end)))
            return NULL;
    }
    return p;
}

/* An object's key and its colon, from the key's opening quote; the byte after the colon. */
static cursor scan_key(cursor p, cursor end)
{
    if (p == end || *p != '"' || !(p = scan_string(p, end)))
        return NULL;
    p = skip_ws(p, end);
    return p < end && *p == ':' ? p + 1 : NULL;
}

bool svc_json_valid(const char *text, size_t len)
{
    /* An explicit stack of the open containers, one bit each (1: object), so that a deep
     * document cannot exhaust the thread's stack. */
    unsigned char objs[SVC_JSON_MAX_DEPTH / 8] = {0};
    size_t depth = 0;
    cursor p = (cursor)text, end = p + len;
    p = skip_ws(p, end);
    if (p == end || (*p != '{' && *p != '['))
        return false;
    bool want_value = true; /* false: after a value, at a comma or a closing bracket */
    while (true) {
        p = skip_ws(p, end);
        if (p == end)
            return false;
        if (want_value) {
            if (*p == '{' || *p == '[') {
                if (depth == SVC_JSON_MAX_DEPTH)
                    return false;
                bool obj = *p == '{';
                objs[depth / 8] = (unsigned char)(obj ? objs[depth / 8] | (1u << (depth % 8))
                                                      : objs[depth / 8] & ~(1u << (depth % 8)));
                depth++;
                p = skip_ws(p + 1, end);
                if (p < end && *p == (obj ? '}' : ']')) {
                    p++;
                    if (--depth == 0)
                        return skip_ws(p, end) == end;
                    want_value = false;
                } else if (obj && !(p = scan_key(p, end))) {
                    return false;
                }
                continue;
            }
            if (!(p = scan_scalar(p, end)))
                return false;
            want_value = false;
            continue;
        }
        bool obj = objs[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            if (obj && !(p = scan_key(p, end)))
                return false;
            want_value = true;
        } else if (*p == (obj ? '}' : ']')) {
            p++;
            if (--depth == 0)
                return skip_ws(p, end) == end;
        } else {
            return false;
        }
    }
}

bool svc_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '-'))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool svc_req_page(const svc_req *req, int64_t *limit, int64_t *offset, svc_resp *resp)
{
    const char *l = svc_req_query(req, "limit"), *o = svc_req_query(req, "offset");
    *limit = 50, *offset = 0;
    if (l && !svc_parse_int(l, 1, 1000, limit)) {
        svc_resp_error(resp, 400, "limit must be an integer between 1 and 1000");
        return false;
    }
    if (o && !svc_parse_int(o, 0, INT64_MAX / 2, offset)) {
        svc_resp_error(resp, 400, "offset must be a non-negative integer");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- server */

bool svc_parse_listen(const char *s, char *host, size_t host_size, uint16_t *port)
{
    const char *colon;
    size_t hl;
    if (!s)
        return false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        colon = close + 1;
        s++;
        hl = (size_t)(close - s);
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - s);
    }
    int64_t p;
    if (hl == 0 || hl >= host_size || !svc_parse_int(colon + 1, 0, 65535, &p))
        return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return true;
}

/* ---------------------------------------------------------------- request series */

static enum MHD_Result send_resp(struct MHD_Connection *c, svc_resp *r);

static size_t method_index(const char *m)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++)
        if (strcmp(m, method_names[i]) == 0)
            return i;
    return N_METHODS - 1;
}

/* The slot of a request: its route entry, or a built-in route by method. */
static size_t slot_of(const svc_server *s, const char *method, const char *url)
{
    size_t extra = X_UNMATCHED;
    if (strcmp(url, "/healthz") == 0)
        extra = X_HEALTHZ;
    else if (strcmp(url, "/readyz") == 0)
        extra = X_READYZ;
    else if (s->o.serve_metrics && strcmp(url, "/metrics") == 0)
        extra = X_METRICS;
    if (extra == X_UNMATCHED) {
        const svc_route *route = NULL;
        const char *params[SVC_MAX_PARAMS];
        size_t np;
        char buf[512], allow[96];
        if (svc_route_match(s->o.routes, s->o.n_routes, method, url, &route, params, &np, buf,
                            sizeof buf, allow, sizeof allow) == SVC_MATCH_OK)
            return (size_t)(route - s->o.routes);
    }
    return s->o.n_routes + extra * N_METHODS + method_index(method);
}

static bool series_init(svc_server *s)
{
    size_t n = s->o.n_routes + N_EXTRA * N_METHODS;
    s->slots = calloc(n, sizeof *s->slots);
    s->codes = calloc(n * N_CODES, sizeof *s->codes);
    if (!s->slots || !s->codes)
        return false;
    for (size_t i = 0; i < s->o.n_routes; i++)
        s->slots[i] = (slot){.route = s->o.routes[i].pattern,
                             .method = method_names[method_index(s->o.routes[i].method)]};
    for (size_t e = 0; e < N_EXTRA; e++)
        for (size_t m = 0; m < N_METHODS; m++)
            s->slots[s->o.n_routes + e * N_METHODS + m] =
                (slot){.route = extra_routes[e], .method = method_names[m]};
    return weir_metrics_gauge(s->o.metrics, "http_requests_in_flight", "Requests being answered.",
                              NULL, &s->inflight_g) == WEIR_OK;
}

/* Counts a request that ended with `status` after `seconds`. */
static void series_count(svc_server *s, size_t si, int status, double seconds)
{
    slot *sl = &s->slots[si];
    weir_histogram *h = atomic_load_explicit(&sl->duration, memory_order_acquire);
    if (!h) {
        const char *l[] = {"route", sl->route, "method", sl->method, NULL};
        if (weir_metrics_histogram(s->o.metrics, "http_request_duration_seconds",
                                   "Time from a request's arrival to its response, by route.", l,
                                   NULL, 0, &h) == WEIR_OK)
            atomic_store_explicit(&sl->duration, h, memory_order_release);
    }
    if (h)
        weir_histogram_observe(h, seconds);
    bool cached = status >= 100 && status < 100 + N_CODES;
    _Atomic(weir_counter *) *cp = cached ? &s->codes[si * N_CODES + (size_t)(status - 100)] : NULL;
    weir_counter *c = cp ? atomic_load_explicit(cp, memory_order_acquire) : NULL;
    if (!c) {
        char code[16];
        snprintf(code, sizeof code, "%d", status);
        const char *l[] = {"route", sl->route, "method", sl->method, "code", code, NULL};
        if (weir_metrics_counter(s->o.metrics, "http_requests_total",
                                 "Requests answered, by route pattern, method and status code.", l,
                                 &c) != WEIR_OK)
            return;
        if (cp)
            atomic_store_explicit(cp, c, memory_order_release);
    }
    weir_counter_inc(c);
}

/* GET /metrics: the registry in the text exposition format. */
static enum MHD_Result send_metrics(svc_server *s, struct MHD_Connection *c, reqstate *st)
{
    char *text = NULL;
    size_t len = 0;
    if (weir_metrics_render(s->o.metrics, &text, &len) != WEIR_OK) {
        svc_resp r = {0};
        svc_resp_error(&r, 500, "out of memory");
        st->status = 500;
        enum MHD_Result ok = send_resp(c, &r);
        svc_resp_free(&r);
        return ok;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    st->status = 200;
    enum MHD_Result ok = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, svc_resp *r)
{
    char *text = NULL;
    size_t len = 0;
    bool is_json = r->json || r->raw;
    if (r->raw) { /* the response's buffer goes to MHD */
        text = r->raw, len = r->raw_len;
        r->raw = NULL, r->raw_len = 0;
    } else if (r->json) {
        text = json_dumps(r->json, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (!text) {
            r->status = 500;
            text = strdup("{\"error\":\"internal\",\"detail\":\"out of memory\"}");
        }
        if (text)
            len = strlen(text);
    }
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (is_json)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=utf-8");
    if (r->header_name[0])
        MHD_add_response_header(resp, r->header_name, r->header_value);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n && ct[n - 1] == ' ')
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    /* JSON lines: the batches of POST /events. */
    if (n == 20 && strncasecmp(ct, "application/x-ndjson", 20) == 0)
        return true;
    return n > 5 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static void dispatch(svc_server *s, struct MHD_Connection *c, const char *method, const char *url,
                     reqstate *st, svc_resp *r)
{
    bool metrics = s->o.serve_metrics && strcmp(url, "/metrics") == 0;
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 || metrics) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            svc_resp_error(r, 405, "%s accepts GET", url);
            snprintf(r->header_name, sizeof r->header_name, "Allow");
            snprintf(r->header_value, sizeof r->header_value, "GET");
            return;
        }
        char why[256] = "";
        if (url[1] == 'h' || !s->o.ready || s->o.ready(s->o.app, why, sizeof why))
            svc_resp_json(r, 200, json_pack("{s:s}", "status", url[1] == 'h' ? "ok" : "ready"));
        else
            svc_resp_error(r, 503, "not ready: %s", why);
        return;
    }
    const svc_route *route = NULL;
    svc_req req = {.method = method, .path = url, .conn = c, .app = s->o.app};
    char allow[96];
    switch (svc_route_match(s->o.routes, s->o.n_routes, method, url, &route, req.params,
                            &req.n_params, st->params, sizeof st->params, allow, sizeof allow)) {
    case SVC_MATCH_OK: break;
    case SVC_MATCH_NO_PATH: svc_resp_error(r, 404, "no route for %s", url); return;
    case SVC_MATCH_BAD_PATH: svc_resp_error(r, 400, "path too long"); return;
    case SVC_MATCH_NO_METHOD:
        svc_resp_error(r, 405, "%s accepts %s", url, allow);
        snprintf(r->header_name, sizeof r->header_name, "Allow");
        snprintf(r->header_value, sizeof r->header_value, "%s", allow);
        return;
    }
    if (st->too_big) {
        svc_resp_error(r, 413, "the body is larger than %zu bytes", s->o.body_limit);
        return;
    }
    bool wants_body =
        strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    if (wants_body && !is_json_type(svc_req_header(&req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        svc_resp_error(r, 415, "Content-Type must be application/json");
        return;
    }
    req.body = st->buf ? st->buf : "";
    req.body_len = st->len;
    route->handler(&req, r);
    if (!r->status)
        svc_resp_error(r, 500, "the handler gave no answer");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    svc_server *s = cls;
    reqstate *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        atomic_fetch_add(&s->inflight, 1);
        if (s->o.metrics) {
            clock_gettime(CLOCK_MONOTONIC, &st->start);
            st->si = slot_of(s, method, url);
            weir_gauge_add(s->inflight_g, 1);
        }
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n;
        if (cl && svc_parse_int(cl, 0, INT64_MAX, &n) && (uint64_t)n > s->o.body_limit) {
            st->too_big = true;
            if ((uint64_t)n > DISCARD_LIMIT) {
                svc_resp r = {0};
                svc_resp_error(&r, 413, "the body is larger than %zu bytes", s->o.body_limit);
                st->status = r.status;
                enum MHD_Result ok = send_resp(c, &r);
                svc_resp_free(&r);
                return ok;
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (st->too_big)
            return MHD_YES;
        if (st->len + n > s->o.body_limit) {
            st->too_big = true;
            free(st->buf);
            st->buf = NULL;
            st->len = st->cap = 0;
            return MHD_YES;
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n + 1)
                cap *= 2;
            char *b = realloc(st->buf, cap);
            if (!b)
                return MHD_NO;
            st->buf = b, st->cap = cap;
        }
        memcpy(st->buf + st->len, upload, n);
        st->len += n;
        st->buf[st->len] = '\0';
        return MHD_YES;
    }
    if (s->o.serve_metrics && s->o.metrics && strcmp(url, "/metrics") == 0 &&
        (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return send_metrics(s, c, st);
    svc_resp r = {0};
    dispatch(s, c, method, url, st, &r);
    st->status = r.status;
    enum MHD_Result ok = send_resp(c, &r);
    svc_resp_free(&r);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c, (void)toe;
    svc_server *s = cls;
    reqstate *st = *con_cls;
    if (!st)
        return;
    if (s->o.metrics) {
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        if (st->status)
            series_count(s, st->si, st->status,
                         (double)(end.tv_sec - st->start.tv_sec) +
                             (double)(end.tv_nsec - st->start.tv_nsec) / 1e9);
        weir_gauge_add(s->inflight_g, -1);
    }
    free(st->buf);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* Each connection's memory pool (request line, headers, read and write buffers), which MHD
 * clears between the requests of a connection: its default of 32 KiB made that memset 8% of
 * product-service's CPU. Bodies do not live there (they stream through on_request), and 16 KiB
 * still holds headers of several KiB. */
#define CONNECTION_MEMORY ((size_t)16 * 1024)

/* Connections queued by the kernel before MHD accepts them: a thousand clients connecting at
 * once must not overflow it (Linux caps it at net.core.somaxconn). */
#define LISTEN_BACKLOG 4096u

/* MHD's own default limit is near FD_SETSIZE (1020 connections), shared out between the pool's
 * threads, so that at a thousand clients a thread whose share was full reset the ones it
 * accepted. The limit is now 256 connections a thread (each thread still caps its own share, so
 * that one thread cannot gather most of the clients while others idle), at least MHD's
 * default, and at most what the descriptor limit leaves once the store, the broker and the
 * upstream connections have theirs. */
#define CONNECTIONS_PER_THREAD 256u

static unsigned connection_limit(unsigned threads)
{
    rlim_t want = (rlim_t)threads * CONNECTIONS_PER_THREAD;
    if (want < 1020)
        want = 1020;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        if (rl.rlim_cur < 1020 + 256)
            return 1020;
        if (want > rl.rlim_cur - 256)
            want = rl.rlim_cur - 256;
    }
    return (unsigned)want;
}

svc_server *svc_server_start(const svc_server_opts *opts, char *errstr, size_t errstr_size)
{
    char host[64];
    uint16_t port;
    if (!svc_parse_listen(opts->listen, host, sizeof host, &port)) {
        snprintf(errstr, errstr_size, "--listen %s: expected HOST:PORT", opts->listen);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *ai = NULL;
    char ports[8];
    snprintf(ports, sizeof ports, "%u", port);
    int rc = getaddrinfo(host, ports, &hints, &ai);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "--listen %s: %s", opts->listen, gai_strerror(rc));
        return NULL;
    }
    svc_server *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->o = *opts;
    if (s->o.metrics && !series_init(s)) {
        freeaddrinfo(ai);
        snprintf(errstr, errstr_size, "out of memory (request series)");
        svc_server_destroy(s);
        return NULL;
    }
    if (!s->o.body_limit)
        s->o.body_limit = SVC_BODY_LIMIT_DEF;
    if (!s->o.threads)
        s->o.threads = 4;
    /* Turbo: MHD reads, writes and accepts before asking epoll whether it can, which saves a
     * wait on every request of a busy keep-alive connection. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, s->o.threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_LIMIT,
        connection_limit(s->o.threads), MHD_OPTION_LISTEN_BACKLOG_SIZE, LISTEN_BACKLOG,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        snprintf(errstr, errstr_size, "--listen %s: cannot listen there (in use or not local?)",
                 opts->listen);
        svc_server_destroy(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[INET6_ADDRSTRLEN] = "?";
    unsigned p = port;
    if (di && getsockname(di->listen_fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
            p = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
            p = ntohs(a->sin_port);
        }
    }
    snprintf(s->addr, sizeof s->addr, strchr(h, ':') ? "[%s]:%u" : "%s:%u", h, p);
    return s;
}

const char *svc_server_address(const svc_server *s)
{
    return s->addr;
}

unsigned svc_server_drain(svc_server *s, unsigned drain_ms)
{
    if (!s || !s->d)
        return 0;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    /* MHD's threads may still hold the socket until MHD_stop_daemon(), so it cannot be closed
     * yet; shutting it down makes Linux refuse new connections meanwhile instead of queueing
     * them in the backlog. */
    if (fd != MHD_INVALID_SOCKET)
        shutdown(fd, SHUT_RDWR);
    struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};
    for (unsigned waited = 0; atomic_load(&s->inflight) && waited < drain_ms; waited += 10)
        nanosleep(&tick, NULL);
    unsigned left = atomic_load(&s->inflight);
    MHD_stop_daemon(s->d);
    s->d = NULL;
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    return left;
}

void svc_server_destroy(svc_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    free(s->slots);
    free(s->codes);
    free(s);
}
