/* The services' HTTP layer: a libmicrohttpd server with routing by method and path pattern,
 * a request body limit, JSON request/response helpers (jansson) and JSON errors
 * {"error":"...","detail":"..."}; SIGTERM drains in-flight requests. */
#ifndef SVC_HTTP_H
#define SVC_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <weir/metrics.h>

#define SVC_MAX_PARAMS     4
#define SVC_BODY_LIMIT_DEF (1024 * 1024)

typedef struct svc_server svc_server;

/* One request, valid only during its handler call. `params` are the `{name}` segments of
 * the matched route, in order, NUL-terminated copies owned by the request. */
typedef struct svc_req {
    const char *method;
    const char *path;
    const char *params[SVC_MAX_PARAMS];
    size_t n_params;
    const char *body; /* NUL-terminated, body_len bytes (may hold other NULs) */
    size_t body_len;
    void *conn; /* the struct MHD_Connection, for svc_req_query() and svc_req_header() */
    void *app;  /* the server's application pointer */
} svc_req;

/* What a handler answers: a status and either a JSON document (owned by the response), the
 * bytes of one already serialised (`raw`, raw_len bytes from malloc, owned by the response:
 * what the gateway passes on from an upstream without parsing it again), or neither (204). A
 * header may be added (Location, Retry-After). svc_resp_free() releases what it holds. */
typedef struct svc_resp {
    int status;
    json_t *json;
    char *raw;
    size_t raw_len;
    char header_name[32];
    char header_value[128];
} svc_resp;

typedef void (*svc_handler)(const svc_req *req, svc_resp *resp);

/* A route: method ("GET", "POST", ...) and a pattern whose segments are literal or `{name}`,
 * which matches any one non-empty segment: "/products/{id}". */
typedef struct svc_route {
    const char *method;
    const char *pattern;
    svc_handler handler;
} svc_route;

/* The result of matching a method and a path against a route table. */
typedef enum svc_match {
    SVC_MATCH_OK,        /* *route and the params are set */
    SVC_MATCH_NO_PATH,   /* 404 */
    SVC_MATCH_NO_METHOD, /* 405: the path matches routes of other methods only */
    SVC_MATCH_BAD_PATH,  /* 400: too long or too many parameters */
} svc_match;

/* Matches `path` (without its query string) against `routes` (n entries). On
 * SVC_MATCH_OK, *route is the matching entry and params[0..*n_params) point into `buf`
 * (buf_size bytes, which receives the parameter copies). On SVC_MATCH_NO_METHOD, `allow`
 * (allow_size bytes) receives the comma-separated methods that the path accepts. */
svc_match svc_route_match(const svc_route *routes, size_t n, const char *method, const char *path,
                          const svc_route **route, const char **params, size_t *n_params, char *buf,
                          size_t buf_size, char *allow, size_t allow_size);

/* ---------------------------------------------------------------- responses */

/* Sets a JSON response; takes ownership of `json` (a NULL json, as from a failed
 * allocation, becomes a 500). */
void svc_resp_json(svc_resp *resp, int status, json_t *json);
/* Sets a serialised JSON response; takes ownership of `raw` (len bytes from malloc). */
void svc_resp_raw(svc_resp *resp, int status, char *raw, size_t len);
/* Releases the response's document (either kind); the status and header stay. */
void svc_resp_free(svc_resp *resp);
/* Sets a JSON error {"error": <the status' short name>, "detail": <formatted>}. */
void svc_resp_error(svc_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The short error name of a status ("bad_request", "not_found", ...). */
const char *svc_status_name(int status);

/* ---------------------------------------------------------------- requests */

/* A query-string argument, or NULL. */
const char *svc_req_query(const svc_req *req, const char *name);
/* A request header, or NULL. */
const char *svc_req_header(const svc_req *req, const char *name);

/* Parses the request body as one JSON object. On failure sets a 400 on `resp` saying
 * why (with the line and column of a syntax error) and returns NULL. The caller frees the
 * result with json_decref(). */
json_t *svc_json_object(const char *body, size_t len, svc_resp *resp);

/* Field readers for a parsed object. Each returns true with the value, or false after setting
 * a 400 on `resp` that names the field: missing (when required), wrong type, or out of range.
 * An absent optional field leaves *out unchanged and returns true. Strings are borrowed from
 * `obj`, valid UTF-8 without NUL, at most max_len bytes. */
bool svc_json_str(const json_t *obj, const char *field, bool required, size_t max_len,
                  const char **out, svc_resp *resp);
bool svc_json_int(const json_t *obj, const char *field, bool required, int64_t min, int64_t max,
                  int64_t *out, svc_resp *resp);
bool svc_json_num(const json_t *obj, const char *field, bool required, double min, double max,
                  double *out, svc_resp *resp);

/* True when the `len` bytes are one JSON object or array (RFC 8259, UTF-8, nested at most
 * SVC_JSON_MAX_DEPTH deep) with only whitespace around it, checked without building the
 * document: whatever jansson's json_loadb() parses without flags passes (but for a NUL byte
 * after a number, which jansson skips), and so does valid JSON that jansson refuses for its
 * own limits (\u0000, a lone surrogate escape, a number out of its range). */
#define SVC_JSON_MAX_DEPTH 2048
bool svc_json_valid(const char *text, size_t len);

/* Parses a decimal integer in [min, max] (the whole string); false otherwise. */
bool svc_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Reads ?limit= and ?offset= (limit 1..1000, default 50; offset >= 0, default 0); false
 * after setting a 400. */
bool svc_req_page(const svc_req *req, int64_t *limit, int64_t *offset, svc_resp *resp);

/* ---------------------------------------------------------------- server */

typedef struct svc_server_opts {
    const char *listen;      /* "HOST:PORT"; port 0 picks a free one */
    const svc_route *routes; /* must outlive the server */
    size_t n_routes;
    size_t body_limit;                                    /* bytes; 0 = SVC_BODY_LIMIT_DEF */
    unsigned threads;                                     /* worker threads; 0 = 4 */
    void *app;                                            /* handed to handlers as req->app */
    bool (*ready)(void *app, char *why, size_t why_size); /* /readyz; NULL = always ready */
    /* Optional: the request series are registered here (not owned; it must outlive the
     * server): http_requests_total{route,method,code}, http_request_duration_seconds{route,
     * method} and http_requests_in_flight. `route` is the matched route's pattern, or
     * /healthz, /readyz, /metrics, or "unmatched" (404/405 and bodies refused before routing);
     * `method` one of GET HEAD POST PUT PATCH DELETE OPTIONS, or "other". A series is
     * registered when its first request ends; later requests update it without a lock. */
    weir_metrics *metrics;
    bool serve_metrics; /* GET /metrics on this listener renders `metrics` (format 0.0.4) */
} svc_server_opts;

/* Parses "HOST:PORT" or "[V6]:PORT" into host (host_size bytes) and port; false otherwise. */
bool svc_parse_listen(const char *s, char *host, size_t host_size, uint16_t *port);

/* Starts serving. /healthz and /readyz are answered by the server itself. Returns NULL with
 * a reason in errstr when the address is bad or cannot be bound. */
svc_server *svc_server_start(const svc_server_opts *opts, char *errstr, size_t errstr_size);
/* The bound address as "HOST:PORT" (owned by the server). */
const char *svc_server_address(const svc_server *s);
/* Stops accepting connections, waits up to `drain_ms` for in-flight requests to finish, then
 * stops. Returns the number of requests still in flight when it gave up (0: clean). */
unsigned svc_server_drain(svc_server *s, unsigned drain_ms);
/* Frees a drained (or never started) server; accepts NULL. */
void svc_server_destroy(svc_server *s);

#endif
