/* api-gateway: the platform's one public entry point. /products, /customers, /orders and
 * /events are passed to their services over kept-alive connections (lib/client.h) with a
 * connect and a total timeout (an upstream down, slow or not speaking JSON becomes 503, 504 or 502
 * with the JSON error); GET /analytics/products/{id}?from=ISO&to=ISO is answered from the analytics
 * job's DynamoDB table with a Query on product_id and window_start BETWEEN from AND to. */
#include "lib/client.h"
#include "lib/http.h"
#include "lib/ops.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weir/conf.h>
#include <weir/dynamodb.h>
#include <weir/event.h>
#include <weir/log.h>
#include <weir/metrics.h>
#include <weir/metrics_server.h>

#define NAME "api-gateway"

enum { UP_PRODUCTS, UP_CUSTOMERS, UP_ORDERS, UP_ACTIVITY, N_UP };
static const char *const up_names[N_UP] = {"products", "customers", "orders", "activity"};
static const char *const up_defaults[N_UP] = {"http://127.0.0.1:8081", "http://127.0.0.1:8082",
                                              "http://127.0.0.1:8083", "http://127.0.0.1:8084"};
static const char *const up_env[N_UP] = {"PRODUCT_API_URL", "CUSTOMER_API_URL", "ORDER_API_URL",
                                         "ACTIVITY_API_URL"};
/* The upstream label of weir_upstream_errors_total: the services by name, then DynamoDB. */
enum { UP_DYNAMODB = N_UP, N_UPSTREAMS };
static const char *const up_labels[N_UPSTREAMS] = {"product-service", "customer-service",
                                                   "order-service", "activity-service", "dynamodb"};
/* Its kind label: refused or unreachable (503), no answer in time (504), an answer that is
 * not HTTP/JSON or a refusal by DynamoDB (502), an answer with a 5xx status. */
enum { K_UNAVAILABLE, K_TIMEOUT, K_BAD_ANSWER, K_SERVER_ERROR, N_KINDS };
static const char *const kind_labels[N_KINDS] = {"unavailable", "timeout", "bad_answer",
                                                 "server_error"};

typedef struct gw_config {
    const char *listen;
    const char *up[N_UP];
    const char *table, *endpoint, *region;
    unsigned threads;
    size_t body_limit;
    int64_t timeout_ms, connect_timeout_ms;
} gw_config;

/* DynamoDB clients, one per request at a time (a weir_ddb is single-threaded). */
typedef struct ddb_pool {
    weir_ddb **c;
    bool *busy;
    unsigned n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} ddb_pool;

typedef struct gateway {
    svc_client *up[N_UP];
    weir_counter *up_errors[N_UPSTREAMS][N_KINDS];
    const char *table;
    ddb_pool ddb;
    char ddb_off[256]; /* why analytics is unavailable, "" when it is */
} gateway;

/* ---------------------------------------------------------------- the routes to services */

/* The upstream target being built: in `stack` until it outgrows it, then on the heap. */
typedef struct qbuf {
    char *p;
    size_t len, cap;
    bool failed, has_args;
    char stack[512];
} qbuf;

static bool qroom(qbuf *q, size_t n)
{
    if (q->failed)
        return false;
    if (q->len + n + 1 <= q->cap)
        return true;
    size_t cap = q->cap * 2;
    while (cap < q->len + n + 1)
        cap *= 2;
    char *p = q->p == q->stack ? malloc(cap) : realloc(q->p, cap);
    if (!p) {
        q->failed = true;
        return false;
    }
    if (q->p == q->stack)
        memcpy(p, q->stack, q->len + 1);
    q->p = p, q->cap = cap;
    return true;
}

static void qput(qbuf *q, const char *s, size_t n)
{
    if (!qroom(q, n))
        return;
    memcpy(q->p + q->len, s, n);
    q->len += n;
    q->p[q->len] = '\0';
}

/* Appends s percent-encoded: every byte but the unreserved ones (RFC 3986, as
 * curl_easy_escape() does), with no allocation for the usual short segment. */
static void qescape(qbuf *q, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!qroom(q, 3 * n))
        return;
    char *o = q->p + q->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%', *o++ = hex[c >> 4], *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    q->len = (size_t)(o - q->p);
}

/* Re-encodes one query argument: MHD hands them decoded. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    qbuf *q = cls;
    qput(q, q->has_args ? "&" : "?", 1);
    q->has_args = true;
    qescape(q, key, strlen(key));
    if (value) {
        qput(q, "=", 1);
        qescape(q, value, strlen(value));
    }
    return MHD_YES;
}

static void proxy(const svc_req *req, svc_resp *resp, int up)
{
    gateway *g = req->app;
    /* The path arrives decoded: each segment is encoded again, then the query string. */
    qbuf q = {.cap = sizeof q.stack};
    q.p = q.stack;
    q.stack[0] = '\0';
    for (const char *seg = req->path; *seg == '/';) {
        const char *next = strchr(seg + 1, '/');
        size_t n = next ? (size_t)(next - seg - 1) : strlen(seg + 1);
        qput(&q, "/", 1);
        qescape(&q, seg + 1, n);
        if (!next)
            break;
        seg = next;
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    const char *target = q.p;
    if (q.failed || !q.len) {
        if (q.p != q.stack)
            free(q.p);
        svc_resp_error(resp, 500, "out of memory");
        return;
    }
    bool has_body = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
                    strcmp(req->method, "PATCH") == 0;
    bool answered =
        svc_client_pass(g->up[up], req->method, target, svc_req_header(req, "Content-Type"),
                        has_body ? req->body : NULL, has_body ? req->body_len : 0, resp);
    if (q.p != q.stack)
        free(q.p);
    if (!answered || resp->status >= 500) {
        int k = answered              ? K_SERVER_ERROR
                : resp->status == 504 ? K_TIMEOUT
                : resp->status == 503 ? K_UNAVAILABLE
                                      : K_BAD_ANSWER;
        weir_counter_inc(g->up_errors[up][k]);
    }
}

static void to_products(const svc_req *req, svc_resp *resp)
{
    proxy(req, resp, UP_PRODUCTS);
}
static void to_customers(const svc_req *req, svc_resp *resp)
{
    proxy(req, resp, UP_CUSTOMERS);
}
static void to_orders(const svc_req *req, svc_resp *resp)
{
    proxy(req, resp, UP_ORDERS);
}
static void to_activity(const svc_req *req, svc_resp *resp)
{
    proxy(req, resp, UP_ACTIVITY);
}

/* ---------------------------------------------------------------- analytics */

static weir_ddb *ddb_take(ddb_pool *p)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (unsigned i = 0; i < p->n; i++)
            if (!p->busy[i]) {
                p->busy[i] = true;
                pthread_mutex_unlock(&p->mu);
                return p->c[i];
            }
        pthread_cond_wait(&p->cv, &p->mu);
    }
}

static void ddb_give(ddb_pool *p, weir_ddb *c)
{
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        if (p->c[i] == c)
            p->busy[i] = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Reads ?name= as ISO-8601 into the form the job writes window_start in. */
static bool iso_arg(const svc_req *req, const char *name, const char *def, char *out,
                    svc_resp *resp)
{
    const char *v = svc_req_query(req, name);
    if (!v) {
        snprintf(out, 32, "%s", def);
        return true;
    }
    int64_t ms;
    if (weir_parse_iso8601(v, strlen(v), &ms) != 0) {
        svc_resp_error(resp, 400, "query '%s' must be an ISO-8601 time (2024-01-01T12:00:00Z)",
                       name);
        return false;
    }
    weir_format_iso8601(ms, out);
    return true;
}

static int by_start(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "window_start"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "window_start"));
    return strcmp(x ? x : "", y ? y : "");
}

static json_t *number(const weir_ddb_attr *a)
{
    if (!a)
        return json_null();
    char *end;
    long long v = strtoll(a->value, &end, 10);
    if (*end == '\0')
        return json_integer(v);
    return json_real(strtod(a->value, NULL));
}

static json_t *text(const weir_ddb_attr *a)
{
    return a ? json_string(a->value) : json_null();
}

static void analytics(const svc_req *req, svc_resp *resp)
{
    gateway *g = req->app;
    char from[32], to[32];
    if (!iso_arg(req, "from", "0000-01-01T00:00:00.000Z", from, resp) ||
        !iso_arg(req, "to", "9999-12-31T23:59:59.999Z", to, resp))
        return;
    if (strcmp(from, to) > 0) {
        svc_resp_error(resp, 400, "'from' (%s) is after 'to' (%s)", from, to);
        return;
    }
    if (g->ddb_off[0]) {
        svc_resp_error(resp, 503, "analytics unavailable: %s", g->ddb_off);
        return;
    }
    weir_ddb_query q = {.table = g->table,
                        .pk_name = "product_id",
                        .pk_value = req->params[0],
                        .sk_name = "window_start",
                        .sk_from = from,
                        .sk_to = to};
    weir_ddb *c = ddb_take(&g->ddb);
    weir_ddb_items *items = NULL;
    char err[512];
    weir_err rc = weir_ddb_query_items(c, &q, &items, err, sizeof err);
    ddb_give(&g->ddb, c);
    if (rc != WEIR_OK) {
        int status = rc == WEIR_ERR_TIMEOUT ? 504
                     : rc == WEIR_ERR_IO || rc == WEIR_ERR_RETRIABLE || rc == WEIR_ERR_NOT_FOUND
                         ? 503
                         : 502;
        svc_resp_error(resp, status, "DynamoDB: %s", err);
        weir_counter_inc(g->up_errors[UP_DYNAMODB][status == 504   ? K_TIMEOUT
                                                   : status == 503 ? K_UNAVAILABLE
                                                                   : K_BAD_ANSWER]);
        return;
    }
    size_t n = weir_ddb_items_count(items);
    json_t **rows = calloc(n ? n : 1, sizeof *rows);
    json_t *windows = json_array();
    bool ok = rows && windows;
    for (size_t i = 0; ok && i < n; i++) {
        rows[i] = json_pack("{s:o, s:o, s:o, s:o}", "window_start",
                            text(weir_ddb_items_find(items, i, "window_start")), "window_end",
                            text(weir_ddb_items_find(items, i, "window_end")), "unique_user_count",
                            number(weir_ddb_items_find(items, i, "unique_user_count")),
                            "event_count", number(weir_ddb_items_find(items, i, "event_count")));
        ok = rows[i] != NULL;
    }
    if (ok) {
        qsort(rows, n, sizeof *rows, by_start);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(windows, rows[i]);
            rows[i] = NULL;
        }
        svc_resp_json(resp, 200,
                      json_pack("{s:s, s:s, s:s, s:o}", "product_id", req->params[0], "from", from,
                                "to", to, "windows", windows));
        windows = NULL;
    } else {
        svc_resp_error(resp, 500, "out of memory");
    }
    for (size_t i = 0; rows && i < n; i++)
        json_decref(rows[i]);
    free(rows);
    json_decref(windows);
    weir_ddb_items_destroy(items);
}

/* ---------------------------------------------------------------- readiness */

static bool ready(void *app, char *why, size_t why_size)
{
    gateway *g = app;
    for (int i = 0; i < N_UP; i++) {
        svc_resp r = {0};
        bool ok = svc_client_call(g->up[i], "GET", "/healthz", NULL, 0, &r) && r.status == 200;
        json_decref(r.json);
        if (!ok) {
            snprintf(why, why_size, "the %s upstream does not answer /healthz", up_names[i]);
            return false;
        }
    }
    if (g->ddb_off[0]) {
        snprintf(why, why_size, "analytics: %s", g->ddb_off);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- main */

#define PROXY(pattern, fn)                                                                         \
    {"GET", pattern, fn}, {"HEAD", pattern, fn}, {"POST", pattern, fn}, {"PUT", pattern, fn},      \
        {"PATCH", pattern, fn},                                                                    \
    {                                                                                              \
        "DELETE", pattern, fn                                                                      \
    }

static const svc_route routes[] = {
    PROXY("/products", to_products),   PROXY("/products/{id}", to_products),
    PROXY("/customers", to_customers), PROXY("/customers/{id}", to_customers),
    PROXY("/orders", to_orders),       PROXY("/orders/{id}", to_orders),
    {"POST", "/events", to_activity},  {"GET", "/analytics/products/{id}", analytics},
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: " NAME " [--listen HOST:PORT] [--products URL] [--customers URL]\n"
        "          [--orders URL] [--activity URL] [--dynamodb-table NAME]\n"
        "          [--dynamodb-endpoint URL] [--aws-region REGION] [--timeout-ms MS]\n"
        "          [--connect-timeout-ms MS] [--threads N] [--body-limit BYTES]\n"
        "  --listen              address to serve on (default 127.0.0.1:8080; port 0 picks a\n"
        "                        free one, printed as the first line on stdout)\n"
        "  --products URL        product-service (default %s, or PRODUCT_API_URL)\n"
        "  --customers URL       customer-service (default %s, or CUSTOMER_API_URL)\n"
        "  --orders URL          order-service (default %s, or ORDER_API_URL)\n"
        "  --activity URL        activity-service (default %s, or ACTIVITY_API_URL)\n"
        "  --dynamodb-table      the analytics table (default ecom-analytics, or "
        "DYNAMODB_TABLE)\n"
        "  --dynamodb-endpoint   DynamoDB endpoint URL (or DYNAMODB_ENDPOINT; empty: AWS's\n"
        "                        regional endpoint of --aws-region)\n"
        "  --aws-region          region for SigV4 (or AWS_REGION); credentials from\n"
        "                        AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN\n"
        "  --timeout-ms          total time of one upstream call, 1..600000 (default 5000)\n"
        "  --connect-timeout-ms  connect time of one upstream call (default 1000)\n"
        "  --threads             worker threads, each blocked while its upstream call runs,\n"
        "                        1..256 (default 32)\n"
        "  --body-limit          largest request body in bytes (default 1048576)\n"
        "The listener also serves /healthz, /readyz and /metrics (Prometheus).\n",
        up_defaults[0], up_defaults[1], up_defaults[2], up_defaults[3]);
    svc_ops_usage(out, true);
}

/* The flags, as the unknown-flag error and docs/CONFIGURATION.md list them. */
#define ACCEPTED                                                                                   \
    "--listen, --products, --customers, --orders, --activity, --dynamodb-table, "                  \
    "--dynamodb-endpoint, --aws-region, --timeout-ms, --connect-timeout-ms, --threads, "           \
    "--body-limit, --log-format, --log-level, --metrics-port, --metrics-host, --check-config, "    \
    "--config-doc, --help"

static void help(FILE *out, const void *arg)
{
    (void)arg;
    usage(out);
}

/* --config-doc: the gateway's section of docs/CONFIGURATION.md. */
static void config_doc(FILE *out)
{
    static const char *const up_flags[N_UP] = {"--products", "--customers", "--orders",
                                               "--activity"};
    static const char *const up_docs[N_UP] = {
        "product-service's base URL", "customer-service's base URL", "order-service's base URL",
        "activity-service's base URL"};
    svc_env_doc env[N_UP + 6];
    size_t n = 0;
    for (int i = 0; i < N_UP; i++)
        env[n++] = (svc_env_doc){up_env[i], up_flags[i], up_docs[i]};
    env[n++] = (svc_env_doc){"DYNAMODB_TABLE", "--dynamodb-table", "the analytics table"};
    env[n++] = (svc_env_doc){"DYNAMODB_ENDPOINT", "--dynamodb-endpoint", "DynamoDB endpoint URL"};
    env[n++] = (svc_env_doc){"AWS_REGION", "--aws-region", "region for SigV4"};
    env[n++] = (svc_env_doc){"AWS_ACCESS_KEY_ID", NULL, "credentials for SigV4; never logged"};
    env[n++] = (svc_env_doc){"AWS_SECRET_ACCESS_KEY", NULL, "credentials for SigV4; never logged"};
    env[n++] =
        (svc_env_doc){"AWS_SESSION_TOKEN", NULL, "credentials for SigV4 (optional); never logged"};
    svc_ops_config_doc(out, NAME, ACCEPTED, env, n, help, NULL);
}

static int bad(char *err, size_t err_size, const char *flag, const char *why)
{
    snprintf(err, err_size, "%s: %s", flag, why);
    return 2;
}

static bool url_ok(const char *v)
{
    return strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

/* Reads the flags and the environment; 0, -1 after --help, or 2 with the reason in err. */
static int parse(int argc, char **argv, gw_config *cfg, svc_ops *ops, char *err, size_t err_size)
{
    const char *env;
    cfg->listen = "127.0.0.1:8080";
    for (int i = 0; i < N_UP; i++)
        cfg->up[i] = (env = getenv(up_env[i])) && *env ? env : up_defaults[i];
    cfg->table = (env = getenv("DYNAMODB_TABLE")) && *env ? env : "ecom-analytics";
    cfg->endpoint = (env = getenv("DYNAMODB_ENDPOINT")) && *env ? env : "";
    cfg->region = "";  /* empty: the DynamoDB client reads $AWS_REGION itself */
    cfg->threads = 32; /* each blocks while its upstream call runs: 2 cores need many */
    cfg->body_limit = SVC_BODY_LIMIT_DEF;
    cfg->timeout_ms = 5000;
    cfg->connect_timeout_ms = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--config-doc") == 0) {
            config_doc(stdout);
            return -1;
        }
        int took = svc_ops_flag(ops, true, argc, argv, &i, err, err_size);
        if (took == 2)
            return 2;
        if (took)
            continue;
        int up = -1;
        for (int k = 0; k < N_UP; k++)
            if (strncmp(a, "--", 2) == 0 && strcmp(a + 2, up_names[k]) == 0)
                up = k;
        static const char *const known[] = {
            "--listen",     "--dynamodb-table",     "--dynamodb-endpoint", "--aws-region",
            "--timeout-ms", "--connect-timeout-ms", "--threads",           "--body-limit"};
        bool takes = up >= 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            takes = takes || strcmp(a, known[k]) == 0;
        if (!takes) {
            snprintf(err, err_size, "unknown flag %s (accepted: " ACCEPTED ")", a);
            return 2;
        }
        if (!v)
            return bad(err, err_size, a, "needs a value");
        i++;
        if (up >= 0) {
            if (!url_ok(v))
                return bad(err, err_size, a, "expected an http:// or https:// URL");
            cfg->up[up] = v;
        } else if (strcmp(a, "--listen") == 0) {
            char host[64];
            uint16_t port;
            if (!svc_parse_listen(v, host, sizeof host, &port))
                return bad(err, err_size, a, "expected HOST:PORT with PORT in 0..65535");
            cfg->listen = v;
        } else if (strcmp(a, "--dynamodb-table") == 0) {
            if (!*v)
                return bad(err, err_size, a, "expected a table name");
            cfg->table = v;
        } else if (strcmp(a, "--dynamodb-endpoint") == 0) {
            if (*v && !url_ok(v))
                return bad(err, err_size, a, "expected an http:// or https:// URL");
            cfg->endpoint = v;
        } else if (strcmp(a, "--aws-region") == 0) {
            cfg->region = v;
        } else if (strcmp(a, "--timeout-ms") == 0) {
            if (!svc_parse_int(v, 1, 600000, &n))
                return bad(err, err_size, a, "expected milliseconds in 1..600000");
            cfg->timeout_ms = n;
        } else if (strcmp(a, "--connect-timeout-ms") == 0) {
            if (!svc_parse_int(v, 1, 600000, &n))
                return bad(err, err_size, a, "expected milliseconds in 1..600000");
            cfg->connect_timeout_ms = n;
        } else if (strcmp(a, "--threads") == 0) {
            if (!svc_parse_int(v, 1, 256, &n))
                return bad(err, err_size, a, "expected an integer in 1..256");
            cfg->threads = (unsigned)n;
        } else if (strcmp(a, "--body-limit") == 0) {
            if (!svc_parse_int(v, 1, 1 << 30, &n))
                return bad(err, err_size, a, "expected bytes in 1..1073741824");
            cfg->body_limit = (size_t)n;
        }
    }
    return 0;
}

/* The DynamoDB clients; on failure analytics answers 503 with the reason (no secrets). */
static void ddb_open(gateway *g, const gw_config *cfg)
{
    const char *region = *cfg->region ? cfg->region : getenv("AWS_REGION");
    if (!*cfg->endpoint && !(region && *region)) {
        snprintf(g->ddb_off, sizeof g->ddb_off,
                 "no --dynamodb-endpoint and no --aws-region / AWS_REGION");
        return;
    }
    weir_conf *conf = weir_conf_new();
    char err[256] = "out of memory";
    /* One quick retry, each try within half the timeout: a caller waits for the answer, and a
     * table that is down or hangs must not hang it. */
    if (!conf || weir_conf_set(conf, "dynamodb.table", cfg->table, err, sizeof err) ||
        weir_conf_set(conf, "dynamodb.endpoint", cfg->endpoint, err, sizeof err) ||
        (*cfg->region && weir_conf_set(conf, "aws.region", cfg->region, err, sizeof err)) ||
        weir_conf_set(conf, "dynamodb.max.retries", "1", err, sizeof err) ||
        weir_conf_set(conf, "dynamodb.max.inflight", "1", err, sizeof err)) {
        snprintf(g->ddb_off, sizeof g->ddb_off, "%s", err);
        weir_conf_destroy(conf);
        return;
    }
    ddb_pool *p = &g->ddb;
    p->c = calloc(p->n, sizeof *p->c);
    p->busy = calloc(p->n, sizeof *p->busy);
    if (!p->c || !p->busy) {
        snprintf(g->ddb_off, sizeof g->ddb_off, "out of memory");
    } else {
        for (unsigned i = 0; i < p->n && !g->ddb_off[0]; i++)
            if (weir_ddb_new(conf, &p->c[i], err, sizeof err) != WEIR_OK)
                snprintf(g->ddb_off, sizeof g->ddb_off, "%s", err);
            else /* two tries of a page fit in the caller's timeout */
                weir_ddb_set_timeouts(p->c[i], (long)cfg->connect_timeout_ms,
                                      (long)(cfg->timeout_ms + 1) / 2);
    }
    weir_conf_destroy(conf);
}

static void ddb_close(ddb_pool *p)
{
    for (unsigned i = 0; p->c && i < p->n; i++)
        weir_ddb_destroy(p->c[i]);
    free(p->c);
    free(p->busy);
}

static int ready_metrics(void *app, char *why, size_t why_size)
{
    return ready(app, why, why_size);
}

static bool upstream_series(gateway *g, weir_metrics *m)
{
    for (int u = 0; u < N_UPSTREAMS; u++)
        for (int k = 0; k < N_KINDS; k++)
            if (weir_metrics_counter(
                    m, "weir_upstream_errors_total",
                    "Failed calls to another service or to DynamoDB, by upstream and kind.",
                    (const char *const[]){"upstream", up_labels[u], "kind", kind_labels[k], NULL},
                    &g->up_errors[u][k]) != WEIR_OK)
                return false;
    return true;
}

int main(int argc, char **argv)
{
    gw_config cfg = {0};
    svc_ops ops;
    svc_ops_init(&ops);
    char err[512] = "";
    int rc = parse(argc, argv, &cfg, &ops, err, sizeof err);
    if (rc < 0)
        return 0;
    /* The logger masks the AWS credentials of the environment in every line. */
    weir_logger *lg = svc_ops_logger(NAME, &ops, NULL);
    if (!lg) {
        fputs(NAME ": out of memory\n", stderr);
        return 1;
    }
    weir_log_field f[12];
    size_t nf = 0;
    f[nf++] = WEIR_LOG_STR("listen", cfg.listen);
    for (int i = 0; i < N_UP; i++)
        f[nf++] = WEIR_LOG_STR(up_names[i], cfg.up[i]);
    f[nf++] = WEIR_LOG_STR("analytics_table", cfg.table);
    f[nf++] = WEIR_LOG_STR("metrics", ops.metrics_port ? "port" : "listen");
    if (rc || ops.check) {
        if (rc)
            weir_logger_log(lg, WEIR_LOG_ERROR, err, NULL, 0);
        else
            weir_logger_log(lg, WEIR_LOG_INFO, "configuration ok", f, nf);
        weir_logger_destroy(lg);
        return rc;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    gateway g = {.table = cfg.table, .ddb = {.n = cfg.threads}};
    pthread_mutex_init(&g.ddb.mu, NULL);
    pthread_cond_init(&g.ddb.cv, NULL);
    rc = 1;
    svc_server *s = NULL;
    weir_metrics *m = NULL;
    weir_metrics_server *ms = NULL;
    if (weir_metrics_new(&m) != WEIR_OK || !upstream_series(&g, m)) {
        snprintf(err, sizeof err, "out of memory (metrics)");
        goto out;
    }
    for (int i = 0; i < N_UP; i++) {
        char why[448];
        if (!(g.up[i] = svc_client_new(cfg.up[i], cfg.threads, (unsigned)cfg.connect_timeout_ms,
                                       (unsigned)cfg.timeout_ms, why, sizeof why))) {
            snprintf(err, sizeof err, "%s client: %s", up_names[i], why);
            goto out;
        }
    }
    ddb_open(&g, &cfg);
    if (g.ddb_off[0]) {
        weir_log_field w[] = {WEIR_LOG_STR("reason", g.ddb_off)};
        weir_logger_log(lg, WEIR_LOG_WARN, "analytics unavailable", w, 1);
    }
    svc_server_opts o = {.listen = cfg.listen,
                         .routes = routes,
                         .n_routes = sizeof routes / sizeof routes[0],
                         .body_limit = cfg.body_limit,
                         .threads = cfg.threads,
                         .app = &g,
                         .ready = ready,
                         .metrics = m,
                         .serve_metrics = true};
    if (!(s = svc_server_start(&o, err, sizeof err)))
        goto out;
    if (ops.metrics_port) {
        weir_metrics_server_opts mo = {.host = ops.metrics_host,
                                       .port = ops.metrics_port,
                                       .ready = ready_metrics,
                                       .ready_arg = &g,
                                       .log = weir_logger_fn,
                                       .log_arg = lg};
        char why[448] = "";
        weir_err e = weir_metrics_server_start(m, &mo, &ms, why, sizeof why);
        if (e != WEIR_OK) {
            snprintf(err, sizeof err, "--metrics-port %u: %s", ops.metrics_port,
                     why[0] ? why : weir_err_str(e));
            goto out;
        }
    }
    printf("%s\n", svc_server_address(s));
    fflush(stdout);
    /* Upstream URLs and the endpoint only: credentials come from the environment and are
     * never printed (the logger masks them too). */
    f[0] = WEIR_LOG_STR("listen", svc_server_address(s));
    f[nf++] = WEIR_LOG_STR("analytics_endpoint", g.ddb_off[0] ? "(unavailable)"
                                                 : g.ddb.c    ? weir_ddb_endpoint(g.ddb.c[0])
                                                              : "?");
    weir_logger_log(lg, WEIR_LOG_INFO, "listening", f, nf);
    svc_ops_wait_and_drain(s, &sigs, lg);
    rc = 0;
out:
    if (rc)
        weir_logger_log(lg, WEIR_LOG_ERROR, err, NULL, 0);
    svc_server_destroy(s);
    weir_metrics_server_stop(ms);
    ddb_close(&g.ddb);
    for (int i = 0; i < N_UP; i++)
        svc_client_destroy(g.up[i]);
    pthread_mutex_destroy(&g.ddb.mu);
    pthread_cond_destroy(&g.ddb.cv);
    curl_global_cleanup();
    weir_metrics_destroy(m);
    if (rc == 0)
        weir_logger_log(lg, WEIR_LOG_INFO, "stopped", NULL, 0);
    weir_logger_destroy(lg);
    return rc;
}
