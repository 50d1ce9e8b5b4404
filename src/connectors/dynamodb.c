/* DynamoDB client: the JSON 1.0 protocol over libcurl's multi interface, SigV4-signed, with
 * keep-alive connections, answer classification, and the DescribeTable, CreateTable, Query
 * and BatchWriteItem helpers. Answers are parsed with jsmn under explicit token bounds. */
#include "connectors/dynamodb_int.h"
#include "runtime/errbuf.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/hex.h"
#include "weir/output.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JSMN_STATIC
#include <jsmn.h>

#include "connectors/aws_int.h"

/* An answer larger than this is cut off and treated as malformed: DynamoDB's largest
 * answers (a 1 MB Query page, 16 MB of UnprocessedItems) stay well below it. */
#define MAX_ANSWER_BYTES   (64u << 20)
#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 30000L
#define BACKOFF_BASE_MS    50
#define BACKOFF_CAP_MS     5000

/* Appends `s` as a JSON string literal (weir_json_quote, which also writes the NUL). */
static void buf_json_str(weir__buf *b, const char *s, size_t n)
{
    weir_slice v = {s, n};
    size_t need = weir_json_quote(v, NULL, 0);
    if (weir__buf_reserve(b, need) != 0)
        return;
    b->len += weir_json_quote(v, b->p + b->len, need + 1);
}

/* ---- JSON answers ---- */

typedef struct json {
    const char *s;
    jsmntok_t *t;
    int n;
} json;

static int json_parse(json *j, const char *s, size_t len)
{
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, s, len, NULL, 0);
    j->s = s;
    j->t = NULL;
    j->n = 0;
    if (n <= 0)
        return -1;
    j->t = malloc((size_t)n * sizeof(jsmntok_t));
    if (!j->t)
        return -2;
    jsmn_init(&p);
    if (jsmn_parse(&p, s, len, j->t, (unsigned)n) != n) {
        free(j->t);
        j->t = NULL;
        return -1;
    }
    j->n = n;
    return 0;
}

/* Parses an answer that must be a JSON object: WEIR_OK, or WEIR_ERR_NOMEM or WEIR_ERR_PARSE
 * with nothing left to free. */
static weir_err json_parse_object(json *j, const char *s, size_t len)
{
    int prc = json_parse(j, s, len);
    if (prc != 0)
        return prc == -2 ? WEIR_ERR_NOMEM : WEIR_ERR_PARSE;
    if (j->t[0].type != JSMN_OBJECT) {
        free(j->t);
        return WEIR_ERR_PARSE;
    }
    return WEIR_OK;
}

/* The index just past token i and all its descendants. */
static int tok_skip(const json *j, int i)
{
    int pending = 1;
    while (pending > 0 && i < j->n) {
        pending += j->t[i].size;
        pending--;
        i++;
    }
    return i;
}

static int tok_eq(const json *j, int i, const char *s)
{
    const jsmntok_t *t = &j->t[i];
    size_t n = strlen(s);
    return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n &&
           memcmp(j->s + t->start, s, n) == 0;
}

/* The value token of member `key` of object token i, or -1. */
static int obj_get(const json *j, int i, const char *key)
{
    if (i < 0 || i >= j->n || j->t[i].type != JSMN_OBJECT)
        return -1;
    int k = i + 1;
    for (int m = 0; m < j->t[i].size && k + 1 < j->n; m++) {
        if (tok_eq(j, k, key))
            return k + 1;
        k = tok_skip(j, k + 1);
    }
    return -1;
}

/* The four hex digits of a \u escape at p, within end. */
static int hex4(const char *p, const char *end, uint32_t *out)
{
    return end - p < 4 ? -1 : weir__hex4(p, out);
}

static void put_utf8(weir__buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    weir__buf_put(b, u, n);
}

/* The unescaped contents of token i (a string; primitives as they are) appended to b. */
static int tok_unescape(const json *j, int i, weir__buf *b)
{
    const char *p = j->s + j->t[i].start, *end = j->s + j->t[i].end;
    weir__buf_put(b, "", 0);
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '\\')
            q++;
        weir__buf_put(b, p, (size_t)(q - p));
        if (q == end)
            break;
        if (q + 1 >= end)
            return -1;
        char c = q[1];
        p = q + 2;
        switch (c) {
        case '"': weir__buf_put(b, "\"", 1); break;
        case '\\': weir__buf_put(b, "\\", 1); break;
        case '/': weir__buf_put(b, "/", 1); break;
        case 'b': weir__buf_put(b, "\b", 1); break;
        case 'f': weir__buf_put(b, "\f", 1); break;
        case 'n': weir__buf_put(b, "\n", 1); break;
        case 'r': weir__buf_put(b, "\r", 1); break;
        case 't': weir__buf_put(b, "\t", 1); break;
        case 'u': {
            uint32_t cp;
            if (hex4(p, end, &cp))
                return -1;
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                uint32_t lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) ||
                    lo < 0xdc00 || lo >= 0xe000)
                    return -1;
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(b, cp);
            break;
        }
        default: return -1;
        }
    }
    return b->oom ? -2 : 0;
}

/* A malloc'd unescaped copy of token i, or NULL. */
static char *tok_dup(const json *j, int i)
{
    weir__buf b = {0};
    if (tok_unescape(j, i, &b) != 0) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- the client ---- */

typedef struct xfer {
    struct xfer *next; /* free list / in-flight list */
    struct weir_ddb *c;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    weir__buf answer;
    int too_big;
    weir_ddb_done_fn done;
    void *opaque;
    char op[48];
    char errbuf[CURL_ERROR_SIZE];
} xfer;

struct weir_ddb {
    CURLM *multi;
    char *endpoint;
    char region[64];
    weir_aws_creds *creds;
    unsigned max_retries;
    long connect_ms, request_ms; /* per request; CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS */
    size_t inflight;
    xfer *free_list;
    xfer *active; /* submitted, not completed */
    uint64_t rng;
    /* The last synchronous answer (weir_ddb_call). */
    int sync_done;
    weir_ddb_response sync;
    char *sync_body, *sync_type, *sync_msg;
};

weir_err weir_ddb_classify(long http_status, const char *type)
{
    if (http_status >= 200 && http_status < 300)
        return WEIR_OK;
    if (!type)
        type = "";
    if (!strcmp(type, "ProvisionedThroughputExceededException") ||
        !strcmp(type, "ThrottlingException") || !strcmp(type, "RequestLimitExceeded") ||
        !strcmp(type, "InternalServerError") || !strcmp(type, "ServiceUnavailable") ||
        !strcmp(type, "LimitExceededException") || !strcmp(type, "TransactionInProgressException"))
        return WEIR_ERR_RETRIABLE;
    if (!strcmp(type, "UnrecognizedClientException") ||
        !strcmp(type, "InvalidSignatureException") ||
        !strcmp(type, "MissingAuthenticationTokenException") ||
        !strcmp(type, "IncompleteSignatureException") || !strcmp(type, "AccessDeniedException") ||
        !strcmp(type, "ExpiredTokenException") || !strcmp(type, "InvalidClientTokenId") ||
        !strcmp(type, "SignatureDoesNotMatch"))
        return WEIR_ERR_AUTH;
    if (!strcmp(type, "ResourceNotFoundException"))
        return WEIR_ERR_NOT_FOUND;
    if (http_status >= 500 || http_status == 429)
        return WEIR_ERR_RETRIABLE;
    if (http_status == 401 || http_status == 403)
        return WEIR_ERR_AUTH;
    if (http_status >= 400)
        return WEIR_ERR_INVALID_ARG;
    return WEIR_ERR_FATAL;
}

static weir_err classify_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return WEIR_ERR_IO;
    case CURLE_OPERATION_TIMEDOUT: return WEIR_ERR_TIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return WEIR_ERR_INVALID_ARG;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE: return WEIR_ERR_FATAL;
    case CURLE_OUT_OF_MEMORY: return WEIR_ERR_NOMEM;
    default: return WEIR_ERR_RETRIABLE;
    }
}

/* The largest length <= n (s being longer) that does not end inside a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* What of a service's message is masked and kept: the message shown is far shorter, and a
 * hostile endpoint's 64 MB message must not cost a scan per credential character. A
 * credential cut at this bound leaves a piece that weir__aws_creds_mask() still finds. */
#define MESSAGE_SCAN_BYTES 4096

/* Writes `text` (modified) into `out` as one line without secrets: the credentials are masked
 * in the text first, and only then is it cut at its first line break and to `size` bytes on a
 * UTF-8 boundary, so that no cut leaves a credential that is no longer found whole. */
static void safe_line(const weir_ddb *c, char *text, char *out, size_t size)
{
    if (strlen(text) > MESSAGE_SCAN_BYTES)
        text[utf8_cut(text, MESSAGE_SCAN_BYTES)] = '\0';
    weir__aws_creds_mask(c->creds, text);
    size_t n = strcspn(text, "\r\n");
    if (n >= size)
        n = utf8_cut(text, size - 1);
    memmove(out, text, n);
    out[n] = '\0';
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->answer.len + n > MAX_ANSWER_BYTES) {
        x->too_big = 1;
        return 0;
    }
    weir__buf_put(&x->answer, ptr, n);
    return x->answer.oom ? 0 : n;
}

static void xfer_free(xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    free(x->answer.p);
    free(x);
}

weir_err weir_ddb_new(const weir_conf *conf, weir_ddb **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    /* Reference counted and thread-safe since curl 7.84; paired with the cleanup in
     * weir_ddb_destroy(), so the library needs no init function of its own. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        weir__errf(errstr, errstr_size, "DynamoDB: curl_global_init failed");
        return WEIR_ERR_FATAL;
    }
    weir_ddb *c = calloc(1, sizeof *c);
    if (!c) {
        curl_global_cleanup();
        weir__errf(errstr, errstr_size, "DynamoDB: out of memory");
        return WEIR_ERR_NOMEM;
    }
    c->rng = (uint64_t)weir__wall_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    if (!c->rng)
        c->rng = 1;
    const char *endpoint = weir_conf_get(conf, "dynamodb.endpoint");
    char err[256];
    weir_err rc = weir_aws_region(conf, c->region, sizeof c->region, err, sizeof err);
    if (rc == WEIR_ERR_NOT_FOUND && endpoint && *endpoint) {
        /* A local endpoint (dynalite, DynamoDB Local) accepts any region. */
        strcpy(c->region, "us-east-1");
        rc = WEIR_OK;
    }
    if (rc != WEIR_OK) {
        weir__errf(errstr, errstr_size, "DynamoDB: %s", err);
        if (rc == WEIR_ERR_NOT_FOUND) {
            weir__errf(errstr, errstr_size,
                       "DynamoDB: no AWS region: set aws.region (--aws-region), AWS_REGION or "
                       "dynamodb.endpoint");
            rc = WEIR_ERR_INVALID_ARG;
        }
        weir_ddb_destroy(c);
        return rc;
    }
    weir__buf ep = {0};
    if (endpoint && *endpoint) {
        if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
            weir__errf(errstr, errstr_size,
                       "DynamoDB: dynamodb.endpoint \"%.200s\" must start with http:// or https://",
                       endpoint);
            weir_ddb_destroy(c);
            return WEIR_ERR_INVALID_ARG;
        }
        weir__buf_str(&ep, endpoint);
        const char *after = strstr(endpoint, "://") + 3;
        if (!strchr(after, '/'))
            weir__buf_str(&ep, "/");
    } else {
        weir__buf_printf(&ep, "https://dynamodb.%s.amazonaws.com/", c->region);
    }
    c->endpoint = ep.p;
    if (ep.oom || !c->endpoint) {
        free(ep.p);
        c->endpoint = NULL;
        weir_ddb_destroy(c);
        weir__errf(errstr, errstr_size, "DynamoDB: out of memory");
        return WEIR_ERR_NOMEM;
    }
    rc = weir_aws_creds_from_env(&c->creds, err, sizeof err);
    if (rc != WEIR_OK) {
        weir__errf(errstr, errstr_size, "DynamoDB: %s", err);
        weir_ddb_destroy(c);
        return rc;
    }
    int64_t retries = weir_conf_get_int(conf, "dynamodb.max.retries");
    int64_t conns = weir_conf_get_int(conf, "dynamodb.max.inflight");
    c->max_retries = retries < 0 ? 0 : (unsigned)retries;
    c->connect_ms = CONNECT_TIMEOUT_MS;
    c->request_ms = REQUEST_TIMEOUT_MS;
    c->multi = curl_multi_init();
    if (!c->multi) {
        weir_ddb_destroy(c);
        weir__errf(errstr, errstr_size, "DynamoDB: cannot create a curl multi handle");
        return WEIR_ERR_NOMEM;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)(conns > 0 ? conns : 4));
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)(conns > 0 ? conns + 1 : 5));
    *out = c;
    return WEIR_OK;
}

void weir_ddb_destroy(weir_ddb *c)
{
    if (!c)
        return;
    for (xfer *x = c->active, *n; x; x = n) {
        n = x->next;
        curl_multi_remove_handle(c->multi, x->easy);
        xfer_free(x);
    }
    for (xfer *x = c->free_list, *n; x; x = n) {
        n = x->next;
        xfer_free(x);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    weir_aws_creds_destroy(c->creds);
    free(c->endpoint);
    free(c->sync_body);
    free(c->sync_type);
    free(c->sync_msg);
    free(c);
    curl_global_cleanup();
}

void weir_ddb_set_timeouts(weir_ddb *c, long connect_ms, long request_ms)
{
    c->connect_ms = connect_ms > 0 ? connect_ms : CONNECT_TIMEOUT_MS;
    c->request_ms = request_ms > 0 ? request_ms : REQUEST_TIMEOUT_MS;
}

const char *weir_ddb_endpoint(const weir_ddb *c)
{
    return c->endpoint;
}

size_t weir_ddb_inflight(const weir_ddb *c)
{
    return c->inflight;
}

void weir_ddb_wakeup(weir_ddb *c)
{
    curl_multi_wakeup(c->multi);
}

/* The Host header value the signature covers; curl is told to send exactly it. */
static void host_of(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    int https = strncmp(url, "https", 5) == 0;
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
    out[n] = '\0';
    /* Drop a default port, as the signer does. */
    char *colon = strrchr(out, ':');
    if (colon && !strchr(colon, ']') &&
        ((https && !strcmp(colon, ":443")) || (!https && !strcmp(colon, ":80"))))
        *colon = '\0';
}

weir_err weir_ddb_submit(weir_ddb *c, const char *op, char *body, size_t len, weir_ddb_done_fn done,
                         void *opaque)
{
    xfer *x = c->free_list;
    if (x) {
        c->free_list = x->next;
    } else {
        x = calloc(1, sizeof *x);
        if (!x || !(x->easy = curl_easy_init())) {
            free(x);
            free(body);
            return WEIR_ERR_NOMEM;
        }
    }
    x->next = NULL;
    x->c = c;
    x->body = body;
    x->answer.len = 0;
    x->answer.oom = 0;
    x->too_big = 0;
    x->done = done;
    x->opaque = opaque;
    x->errbuf[0] = '\0';
    snprintf(x->op, sizeof x->op, "%s", op);
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;

    char target[96], host[256];
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    host_of(c->endpoint, host, sizeof host);
    weir_http_header sign_hdrs[] = {
        {"Content-Type", "application/x-amz-json-1.0"},
        {"X-Amz-Target", target},
        {"Host", host},
    };
    weir_sigv4_request req = {"POST",    c->endpoint, sign_hdrs,      3, body, len,
                              c->region, "dynamodb",  weir__wall_ms()};
    char amz_date[WEIR_SIGV4_DATE_SIZE], auth[WEIR_SIGV4_AUTH_SIZE], err[256];
    if (weir_sigv4_sign(c->creds, &req, amz_date, auth, sizeof auth, err, sizeof err) != WEIR_OK) {
        free(x->body);
        x->body = NULL;
        x->next = c->free_list;
        c->free_list = x;
        return WEIR_ERR_INVALID_ARG;
    }
    char line[WEIR_SIGV4_AUTH_SIZE + 32];
    struct curl_slist *h = NULL, *t;
#define ADD_HDR(...)                                                                               \
    do {                                                                                           \
        snprintf(line, sizeof line, __VA_ARGS__);                                                  \
        t = curl_slist_append(h, line);                                                            \
        if (!t)                                                                                    \
            goto nomem;                                                                            \
        h = t;                                                                                     \
    } while (0)
    ADD_HDR("Host: %s", host);
    ADD_HDR("Content-Type: application/x-amz-json-1.0");
    ADD_HDR("X-Amz-Target: %s", target);
    ADD_HDR("X-Amz-Date: %s", amz_date);
    ADD_HDR("Authorization: %s", auth);
    if (weir_aws_creds_session_token(c->creds)) {
        /* Built directly: the token may be longer than `line`. */
        weir__buf tb = {0};
        weir__buf_str(&tb, "X-Amz-Security-Token: ");
        weir__buf_str(&tb, weir_aws_creds_session_token(c->creds));
        t = tb.oom ? NULL : curl_slist_append(h, tb.p);
        free(tb.p);
        if (!t)
            goto nomem;
        h = t;
    }
    ADD_HDR("Expect:");
    ADD_HDR("Accept:");
#undef ADD_HDR
    x->hdrs = h;

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, c->endpoint);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->request_ms);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Loopback endpoints (dynalite, test proxies) never go through an HTTP proxy. */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        free(x->body);
        x->body = NULL;
        x->next = c->free_list;
        c->free_list = x;
        return WEIR_ERR_NOMEM;
    }
    x->next = c->active;
    c->active = x;
    c->inflight++;
    return WEIR_OK;
nomem:
    curl_slist_free_all(h);
    free(x->body);
    x->body = NULL;
    x->next = c->free_list;
    c->free_list = x;
    return WEIR_ERR_NOMEM;
}

/* The type and the message of an error answer {"__type":"...#Name","message":"..."}, whole
 * and unescaped, malloc'd (NULL when absent or out of memory): they may echo credentials,
 * which safe_line() masks before anything is cut. */
static void parse_error(const char *body, size_t len, char **type, char **msg)
{
    *type = *msg = NULL;
    json j;
    if (json_parse(&j, body, len) != 0)
        return;
    int t = obj_get(&j, 0, "__type");
    if (t < 0)
        t = obj_get(&j, 0, "code");
    if (t >= 0 && (*type = tok_dup(&j, t)) != NULL) {
        const char *hash = strrchr(*type, '#');
        if (hash)
            memmove(*type, hash + 1, strlen(hash + 1) + 1);
    }
    int m = obj_get(&j, 0, "message");
    if (m < 0)
        m = obj_get(&j, 0, "Message");
    if (m >= 0)
        *msg = tok_dup(&j, m);
    free(j.t);
}

static void complete(weir_ddb *c, xfer *x, CURLcode cc)
{
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    char type[128] = "", msg[512] = "";
    char *full_type = NULL, *full_msg = NULL;
    weir_ddb_response r = {0};
    r.http_status = status;
    r.body = x->answer.p && !x->answer.oom ? x->answer.p : "";
    r.body_len = x->answer.p && !x->answer.oom ? x->answer.len : 0;
    if (cc != CURLE_OK) {
        r.http_status = 0;
        r.err = x->too_big ? WEIR_ERR_PARSE : classify_curl(cc);
        snprintf(msg, sizeof msg, "%s",
                 x->too_big ? "answer too large"
                            : (x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc)));
    } else {
        if (status < 200 || status >= 300)
            parse_error(r.body, r.body_len, &full_type, &full_msg);
        if (full_type)
            safe_line(c, full_type, type, sizeof type);
        if (full_msg)
            safe_line(c, full_msg, msg, sizeof msg);
        free(full_type);
        free(full_msg);
        r.err = weir_ddb_classify(status, type);
        if (r.err != WEIR_OK && !msg[0])
            snprintf(msg, sizeof msg, "HTTP status %ld", status);
        if (r.err == WEIR_OK && x->answer.oom) {
            r.err = WEIR_ERR_NOMEM;
            snprintf(msg, sizeof msg, "out of memory reading the answer");
        }
    }
    safe_line(c, msg, msg, sizeof msg);
    r.error_type = type;
    r.message = msg;
    /* Unlink before the callback: it may submit again. */
    xfer **pp = &c->active;
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (*pp)
        *pp = x->next;
    c->inflight--;
    curl_multi_remove_handle(c->multi, x->easy);
    x->done(x->opaque, &r);
    free(x->body);
    x->body = NULL;
    x->next = c->free_list;
    c->free_list = x;
}

static int drain(weir_ddb *c)
{
    int running = 0, n = 0, left;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode cc = m->data.result;
        complete(c, x, cc);
        n++;
    }
    return n;
}

int weir_ddb_poll(weir_ddb *c, int timeout_ms)
{
    int n = drain(c);
    if (n || timeout_ms <= 0)
        return n;
    int fds = 0;
    curl_multi_poll(c->multi, NULL, 0, timeout_ms, &fds);
    return drain(c);
}

uint64_t weir__ddb_rng_next(uint64_t *s)
{
    /* xorshift64*: only for jitter, so statistical quality is all it needs. */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t weir__ddb_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd)
{
    uint64_t ceiling = cap_ms;
    if (attempt < 63 && base_ms <= (cap_ms >> attempt))
        ceiling = base_ms << attempt;
    return ceiling ? rnd % (ceiling + 1) : 0;
}

static void sync_done(void *opaque, const weir_ddb_response *r)
{
    weir_ddb *c = opaque;
    free(c->sync_body);
    free(c->sync_type);
    free(c->sync_msg);
    c->sync_body = malloc(r->body_len + 1);
    c->sync_type = strdup(r->error_type);
    c->sync_msg = strdup(r->message);
    c->sync = *r;
    if (!c->sync_body || !c->sync_type || !c->sync_msg) {
        c->sync.err = WEIR_ERR_NOMEM;
        c->sync.body = c->sync.error_type = c->sync.message = "";
        c->sync.body_len = 0;
    } else {
        memcpy(c->sync_body, r->body, r->body_len);
        c->sync_body[r->body_len] = '\0';
        c->sync.body = c->sync_body;
        c->sync.error_type = c->sync_type;
        c->sync.message = c->sync_msg;
    }
    c->sync_done = 1;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One synchronous call with up to `max_retries` retries of retriable failures; an unreachable
 * endpoint (WEIR_ERR_IO) is retried at most `io_retries` times. */
static weir_err call_retry(weir_ddb *c, const char *op, const char *body, size_t len,
                           unsigned max_retries, unsigned io_retries,
                           const weir_ddb_response **resp, char *errstr, size_t errstr_size)
{
    for (unsigned attempt = 0;; attempt++) {
        char *copy = malloc(len + 1);
        if (!copy) {
            weir__errf(errstr, errstr_size, "%s: out of memory", op);
            return WEIR_ERR_NOMEM;
        }
        memcpy(copy, body, len);
        copy[len] = '\0';
        c->sync_done = 0;
        weir_err rc = weir_ddb_submit(c, op, copy, len, sync_done, c);
        if (rc != WEIR_OK) {
            weir__errf(errstr, errstr_size, "%s: cannot send the request: %s", op,
                       weir_err_str(rc));
            return rc;
        }
        while (!c->sync_done)
            weir_ddb_poll(c, 1000);
        rc = c->sync.err;
        if (rc == WEIR_OK) {
            *resp = &c->sync;
            return WEIR_OK;
        }
        unsigned limit = rc == WEIR_ERR_IO ? io_retries : max_retries;
        if (!weir_err_is_retriable(rc) || attempt >= limit) {
            if (rc == WEIR_ERR_IO || rc == WEIR_ERR_TIMEOUT)
                weir__errf(errstr, errstr_size, "%s: cannot reach %s: %s", op, c->endpoint,
                           c->sync.message);
            else
                weir__errf(errstr, errstr_size, "%s: %s%s%s", op, c->sync.error_type,
                           c->sync.error_type[0] ? ": " : "", c->sync.message);
            *resp = &c->sync;
            return rc;
        }
        sleep_ms(weir__ddb_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
                                      weir__ddb_rng_next(&c->rng)));
    }
}

weir_err weir_ddb_call(weir_ddb *c, const char *op, const char *body, size_t len,
                       const weir_ddb_response **resp, char *errstr, size_t errstr_size)
{
    return call_retry(c, op, body, len, c->max_retries, c->max_retries, resp, errstr, errstr_size);
}

static void copy_tok(const json *j, int i, char *out, size_t size)
{
    out[0] = '\0';
    if (i < 0)
        return;
    char *s = tok_dup(j, i);
    if (s) {
        snprintf(out, size, "%s", s);
        free(s);
    }
}

weir_err weir_ddb_describe_table(weir_ddb *c, const char *table, weir_ddb_table_info *info,
                                 char *errstr, size_t errstr_size)
{
    memset(info, 0, sizeof *info);
    weir__buf b = {0};
    weir__buf_str(&b, "{\"TableName\":");
    buf_json_str(&b, table, strlen(table));
    weir__buf_str(&b, "}");
    if (b.oom) {
        free(b.p);
        return WEIR_ERR_NOMEM;
    }
    const weir_ddb_response *r;
    /* At start an unreachable endpoint should fail fast: two quick retries at most. */
    weir_err rc = call_retry(c, "DescribeTable", b.p, b.len,
                             c->max_retries < 3 ? c->max_retries : 3, 2, &r, errstr, errstr_size);
    free(b.p);
    if (rc == WEIR_ERR_NOT_FOUND)
        weir__errf(errstr, errstr_size, "DynamoDB table \"%.200s\" does not exist at %s", table,
                   c->endpoint);
    if (rc != WEIR_OK)
        return rc;
    return weir__ddb_table_info_parse(r->body, r->body_len, info, errstr, errstr_size);
}

weir_err weir__ddb_table_info_parse(const char *body, size_t len, weir_ddb_table_info *info,
                                    char *errstr, size_t errstr_size)
{
    memset(info, 0, sizeof *info);
    json j;
    if (json_parse(&j, body, len) != 0) {
        weir__errf(errstr, errstr_size, "DescribeTable: malformed answer");
        return WEIR_ERR_PARSE;
    }
    int t = obj_get(&j, 0, "Table");
    copy_tok(&j, obj_get(&j, t, "TableStatus"), info->status, sizeof info->status);
    int ks = obj_get(&j, t, "KeySchema");
    if (ks >= 0 && j.t[ks].type == JSMN_ARRAY) {
        int k = ks + 1;
        for (int m = 0; m < j.t[ks].size && k < j.n; m++) {
            int name = obj_get(&j, k, "AttributeName"), type = obj_get(&j, k, "KeyType");
            if (name >= 0 && type >= 0) {
                if (tok_eq(&j, type, "HASH"))
                    copy_tok(&j, name, info->partition_key, sizeof info->partition_key);
                else if (tok_eq(&j, type, "RANGE"))
                    copy_tok(&j, name, info->sort_key, sizeof info->sort_key);
            }
            k = tok_skip(&j, k);
        }
    }
    free(j.t);
    if (!info->status[0] || !info->partition_key[0]) {
        weir__errf(errstr, errstr_size, "DescribeTable: answer without TableStatus or KeySchema");
        return WEIR_ERR_PARSE;
    }
    return WEIR_OK;
}

weir_err weir_ddb_create_table(weir_ddb *c, const char *table, const char *pk, const char *sk,
                               int wait_ms, char *errstr, size_t errstr_size)
{
    weir__buf b = {0};
    weir__buf_str(&b, "{\"TableName\":");
    buf_json_str(&b, table, strlen(table));
    weir__buf_str(&b, ",\"AttributeDefinitions\":[{\"AttributeName\":");
    buf_json_str(&b, pk, strlen(pk));
    weir__buf_str(&b, ",\"AttributeType\":\"S\"}");
    if (sk) {
        weir__buf_str(&b, ",{\"AttributeName\":");
        buf_json_str(&b, sk, strlen(sk));
        weir__buf_str(&b, ",\"AttributeType\":\"S\"}");
    }
    weir__buf_str(&b, "],\"KeySchema\":[{\"AttributeName\":");
    buf_json_str(&b, pk, strlen(pk));
    weir__buf_str(&b, ",\"KeyType\":\"HASH\"}");
    if (sk) {
        weir__buf_str(&b, ",{\"AttributeName\":");
        buf_json_str(&b, sk, strlen(sk));
        weir__buf_str(&b, ",\"KeyType\":\"RANGE\"}");
    }
    weir__buf_str(&b, "],\"BillingMode\":\"PAY_PER_REQUEST\"}");
    if (b.oom) {
        free(b.p);
        return WEIR_ERR_NOMEM;
    }
    const weir_ddb_response *r = NULL;
    weir_err rc =
        call_retry(c, "CreateTable", b.p, b.len, c->max_retries, 2, &r, errstr, errstr_size);
    free(b.p);
    if (rc != WEIR_OK && !(r && strcmp(r->error_type, "ResourceInUseException") == 0))
        return rc;
    /* Wait until ACTIVE: tables start in CREATING. */
    int64_t deadline = weir__wall_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        weir_ddb_table_info info;
        rc = weir_ddb_describe_table(c, table, &info, errstr, errstr_size);
        if (rc == WEIR_OK && !strcmp(info.status, "ACTIVE"))
            return WEIR_OK;
        if (rc != WEIR_OK && rc != WEIR_ERR_NOT_FOUND)
            return rc;
        if (weir__wall_ms() >= deadline) {
            weir__errf(errstr, errstr_size, "CreateTable: table \"%.200s\" not ACTIVE after %d ms",
                       table, wait_ms);
            return WEIR_ERR_TIMEOUT;
        }
        sleep_ms(100);
    }
}

weir_err weir_ddb_batch_unprocessed(const char *body, size_t len, const char *table, const char *pk,
                                    const char *sk,
                                    void (*fn)(void *opaque, const char *pk_value, size_t pk_len,
                                               const char *sk_value, size_t sk_len),
                                    void *opaque)
{
    json j;
    weir_err rc = json_parse_object(&j, body, len);
    if (rc != WEIR_OK)
        return rc;
    int u = obj_get(&j, 0, "UnprocessedItems");
    int arr = obj_get(&j, u, table);
    if (arr >= 0 && j.t[arr].type == JSMN_ARRAY) {
        int k = arr + 1;
        for (int m = 0; m < j.t[arr].size && k < j.n && rc == WEIR_OK; m++) {
            int item = obj_get(&j, obj_get(&j, k, "PutRequest"), "Item");
            int pv = obj_get(&j, obj_get(&j, item, pk), "S");
            int sv = obj_get(&j, obj_get(&j, item, sk), "S");
            if (pv < 0 || sv < 0) {
                rc = WEIR_ERR_PARSE;
                break;
            }
            weir__buf pb = {0}, sb = {0};
            if (tok_unescape(&j, pv, &pb) != 0 || tok_unescape(&j, sv, &sb) != 0)
                rc = (pb.oom || sb.oom) ? WEIR_ERR_NOMEM : WEIR_ERR_PARSE;
            else
                fn(opaque, pb.p, pb.len, sb.p, sb.len);
            free(pb.p);
            free(sb.p);
            k = tok_skip(&j, k);
        }
    }
    free(j.t);
    return rc;
}

/* ---- Query ---- */

struct weir_ddb_items {
    weir_ddb_attr *attrs;
    size_t n_attrs, cap_attrs;
    size_t *starts; /* item i has attrs [starts[i], starts[i+1]) */
    size_t n_items, cap_items;
};

size_t weir_ddb_items_count(const weir_ddb_items *it)
{
    return it ? it->n_items : 0;
}

size_t weir_ddb_items_attr_count(const weir_ddb_items *it, size_t item)
{
    return item < it->n_items ? it->starts[item + 1] - it->starts[item] : 0;
}

const weir_ddb_attr *weir_ddb_items_attr(const weir_ddb_items *it, size_t item, size_t j)
{
    if (item >= it->n_items || j >= weir_ddb_items_attr_count(it, item))
        return NULL;
    return &it->attrs[it->starts[item] + j];
}

const weir_ddb_attr *weir_ddb_items_find(const weir_ddb_items *it, size_t item, const char *name)
{
    size_t n = weir_ddb_items_attr_count(it, item);
    for (size_t j = 0; j < n; j++)
        if (!strcmp(it->attrs[it->starts[item] + j].name, name))
            return &it->attrs[it->starts[item] + j];
    return NULL;
}

void weir_ddb_items_destroy(weir_ddb_items *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n_attrs; i++) {
        free((char *)it->attrs[i].name);
        free((char *)it->attrs[i].type);
        free((char *)it->attrs[i].value);
    }
    free(it->attrs);
    free(it->starts);
    free(it);
}

size_t weir_ddb_items_to_json(const weir_ddb_items *it, size_t item, char *out, size_t cap)
{
    weir__buf b = {0};
    weir__buf_put(&b, "{", 1);
    size_t n = weir_ddb_items_attr_count(it, item);
    for (size_t j = 0; j < n; j++) {
        const weir_ddb_attr *a = &it->attrs[it->starts[item] + j];
        if (j)
            weir__buf_put(&b, ",", 1);
        buf_json_str(&b, a->name, strlen(a->name));
        weir__buf_put(&b, ":", 1);
        if (!strcmp(a->type, "S"))
            buf_json_str(&b, a->value, strlen(a->value));
        else
            weir__buf_str(&b, a->value);
    }
    weir__buf_put(&b, "}", 1);
    size_t need = b.oom ? 0 : b.len;
    if (cap) {
        size_t k = need < cap ? need : cap - 1;
        if (k)
            memcpy(out, b.p, k);
        out[k] = '\0';
    }
    free(b.p);
    return need;
}

static int items_add_attr(weir_ddb_items *it, char *name, char *type, char *value)
{
    if (!name || !type || !value)
        goto fail;
    if (it->n_attrs == it->cap_attrs) {
        size_t cap = it->cap_attrs ? it->cap_attrs * 2 : 64;
        weir_ddb_attr *a = realloc(it->attrs, cap * sizeof *a);
        if (!a)
            goto fail;
        it->attrs = a;
        it->cap_attrs = cap;
    }
    it->attrs[it->n_attrs++] = (weir_ddb_attr){name, type, value};
    return 0;
fail:
    free(name);
    free(type);
    free(value);
    return -1;
}

static int items_end_item(weir_ddb_items *it)
{
    if (it->n_items + 2 > it->cap_items) {
        size_t cap = it->cap_items ? it->cap_items * 2 : 16;
        size_t *s = realloc(it->starts, cap * sizeof *s);
        if (!s)
            return -1;
        it->starts = s;
        it->cap_items = cap;
    }
    it->n_items++;
    it->starts[it->n_items] = it->n_attrs;
    return 0;
}

/* The raw JSON text of token i (a string with its quotes). */
static char *raw_dup(const json *j, int i)
{
    int s = j->t[i].start, e = j->t[i].end;
    if (j->t[i].type == JSMN_STRING) {
        s--;
        e++;
    }
    return strndup(j->s + s, (size_t)(e - s));
}

weir_ddb_items *weir__ddb_items_new(void)
{
    weir_ddb_items *it = calloc(1, sizeof *it);
    if (!it || !(it->starts = calloc(16, sizeof(size_t)))) {
        free(it);
        return NULL;
    }
    it->cap_items = 16;
    return it;
}

/* Adds member `a` of an item, "name":{"T":value}, to `it`. Every token it reads is checked
 * against j->n first: a member of another shape ({"a":{"S"}}: a type without a value) is
 * WEIR_ERR_PARSE, not a read past the tokens. */
static weir_err item_attr(const json *j, int a, weir_ddb_items *it)
{
    int v = a + 1, ty = a + 2, val = a + 3;
    if (val >= j->n || j->t[a].type != JSMN_STRING || j->t[a].size != 1 ||
        j->t[v].type != JSMN_OBJECT || j->t[v].size != 1 || j->t[ty].type != JSMN_STRING ||
        j->t[ty].size != 1)
        return WEIR_ERR_PARSE;
    weir__buf name = {0}, type = {0}, value = {0};
    int urc = tok_unescape(j, a, &name);
    if (urc == 0)
        urc = tok_unescape(j, ty, &type);
    if (urc == 0) {
        if (j->t[val].type == JSMN_STRING || j->t[val].type == JSMN_PRIMITIVE)
            urc = tok_unescape(j, val, &value);
        else /* M, L, SS...: their raw JSON */
            urc = (value.p = raw_dup(j, val)) != NULL ? 0 : -2;
    }
    if (urc != 0) {
        free(name.p);
        free(type.p);
        free(value.p);
        return urc == -2 ? WEIR_ERR_NOMEM : WEIR_ERR_PARSE;
    }
    return items_add_attr(it, name.p, type.p, value.p) == 0 ? WEIR_OK : WEIR_ERR_NOMEM;
}

weir_err weir__ddb_items_from_page(weir_ddb_items *it, const char *body, size_t len, size_t limit,
                                   char **last)
{
    *last = NULL;
    json j;
    weir_err rc = json_parse_object(&j, body, len);
    if (rc != WEIR_OK)
        return rc;
    int arr = obj_get(&j, 0, "Items");
    if (arr >= 0 && j.t[arr].type == JSMN_ARRAY) {
        int k = arr + 1;
        for (int m = 0; m < j.t[arr].size && rc == WEIR_OK; m++) {
            if (limit && it->n_items >= limit)
                break;
            if (k >= j.n || j.t[k].type != JSMN_OBJECT) {
                rc = WEIR_ERR_PARSE;
                break;
            }
            int a = k + 1;
            for (int f = 0; f < j.t[k].size && rc == WEIR_OK; f++) {
                rc = item_attr(&j, a, it);
                a = tok_skip(&j, a + 1);
            }
            if (rc == WEIR_OK && items_end_item(it) != 0)
                rc = WEIR_ERR_NOMEM;
            k = tok_skip(&j, k);
        }
    }
    int lek = obj_get(&j, 0, "LastEvaluatedKey");
    if (rc == WEIR_OK && lek >= 0 && j.t[lek].type == JSMN_OBJECT &&
        (*last = raw_dup(&j, lek)) == NULL)
        rc = WEIR_ERR_NOMEM; /* not "no more pages": the rest would be silently dropped */
    free(j.t);
    return rc;
}

weir_err weir_ddb_query_items(weir_ddb *c, const weir_ddb_query *q, weir_ddb_items **out,
                              char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!q->table || !q->pk_name || !q->pk_value || (q->sk_name && (!q->sk_from || !q->sk_to))) {
        weir__errf(errstr, errstr_size,
                   "Query: table, key name and value (and both bounds) needed");
        return WEIR_ERR_INVALID_ARG;
    }
    weir_ddb_items *it = weir__ddb_items_new();
    if (!it)
        return WEIR_ERR_NOMEM;
    char *last = NULL;
    weir_err rc = WEIR_OK;
    do {
        weir__buf b = {0};
        weir__buf_str(&b, "{\"TableName\":");
        buf_json_str(&b, q->table, strlen(q->table));
        weir__buf_str(&b, ",\"KeyConditionExpression\":\"#p = :p");
        if (q->sk_name)
            weir__buf_str(&b, " AND #s BETWEEN :a AND :b");
        weir__buf_str(&b, "\",\"ExpressionAttributeNames\":{\"#p\":");
        buf_json_str(&b, q->pk_name, strlen(q->pk_name));
        if (q->sk_name) {
            weir__buf_str(&b, ",\"#s\":");
            buf_json_str(&b, q->sk_name, strlen(q->sk_name));
        }
        weir__buf_str(&b, "},\"ExpressionAttributeValues\":{\":p\":{\"S\":");
        buf_json_str(&b, q->pk_value, strlen(q->pk_value));
        weir__buf_str(&b, "}");
        if (q->sk_name) {
            weir__buf_str(&b, ",\":a\":{\"S\":");
            buf_json_str(&b, q->sk_from, strlen(q->sk_from));
            weir__buf_str(&b, "},\":b\":{\"S\":");
            buf_json_str(&b, q->sk_to, strlen(q->sk_to));
            weir__buf_str(&b, "}");
        }
        weir__buf_str(&b, "},\"ConsistentRead\":true");
        if (q->descending)
            weir__buf_str(&b, ",\"ScanIndexForward\":false");
        if (q->limit)
            weir__buf_printf(&b, ",\"Limit\":%zu", q->limit - it->n_items);
        if (last) {
            weir__buf_str(&b, ",\"ExclusiveStartKey\":");
            weir__buf_str(&b, last);
            free(last);
            last = NULL;
        }
        weir__buf_str(&b, "}");
        if (b.oom) {
            free(b.p);
            rc = WEIR_ERR_NOMEM;
            break;
        }
        const weir_ddb_response *r;
        rc = weir_ddb_call(c, "Query", b.p, b.len, &r, errstr, errstr_size);
        free(b.p);
        if (rc != WEIR_OK)
            break;
        rc = weir__ddb_items_from_page(it, r->body, r->body_len, q->limit, &last);
        if (rc != WEIR_OK)
            weir__errf(errstr, errstr_size, "Query: %s answer",
                       rc == WEIR_ERR_NOMEM ? "out of memory reading the" : "malformed");
    } while (rc == WEIR_OK && last && (!q->limit || it->n_items < q->limit));
    free(last);
    if (rc != WEIR_OK) {
        weir_ddb_items_destroy(it);
        return rc;
    }
    *out = it;
    return WEIR_OK;
}

/* ---- the parsers, for their fuzz targets (dynamodb_int.h) ---- */

void weir__ddb_parse_error(const char *body, size_t len, char *type, size_t tsize, char *msg,
                           size_t msize)
{
    char *t, *m;
    parse_error(body, len, &t, &m);
    snprintf(type, tsize, "%s", t ? t : "");
    snprintf(msg, msize, "%s", m ? m : "");
    free(t);
    free(m);
}
