/* The services' HTTP client: a small pool of handles, each keeping its connection alive from
 * call to call, and every failure mapped onto 502/503/504. A plain http:// upstream is called
 * through h1.c, anything else (https://) through libcurl. */
#include "client.h"

#include "h1.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The largest upstream answer read; larger ones are a 502. */
#define MAX_ANSWER (8u * 1024 * 1024)

/* An easy handle with the options that never change set once, and its request headers
 * built once: a bodiless call's, and a call's with the body type it last sent. */
typedef struct handle {
    CURL *h;
    svc_h1 own; /* the connection of an http:// upstream's calls */
    bool busy;
    struct curl_slist *plain, *typed;
    char type[160];
} handle;

struct svc_client {
    char *base;
    bool own; /* http://: h1.c's calls to `to` instead of libcurl's */
    svc_h1_target to;
    unsigned n;
    unsigned connect_ms, timeout_ms;
    handle *hs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long connects;
};

typedef struct buf {
    char *p;
    size_t len, cap;
    bool overflow;
} buf;

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    buf *b = arg;
    size_t add = size * n;
    if (b->len + add > MAX_ANSWER) {
        b->overflow = true;
        return 0;
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, data, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

svc_client *svc_client_new(const char *base_url, unsigned handles, unsigned connect_timeout_ms,
                           unsigned timeout_ms, char *errstr, size_t errstr_size)
{
    /* curl_global_init is idempotent after the first call; it is not thread-safe, so the
     * services make their clients before they serve. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errstr, errstr_size, "libcurl cannot be initialised");
        return NULL;
    }
    svc_client *c = calloc(1, sizeof *c);
    if (!c || !(c->base = strdup(base_url)) ||
        !(c->hs = calloc(handles ? handles : 1, sizeof(handle)))) {
        snprintf(errstr, errstr_size, "out of memory");
        svc_client_destroy(c);
        return NULL;
    }
    size_t bl = strlen(c->base);
    while (bl && c->base[bl - 1] == '/')
        c->base[--bl] = '\0';
    c->own = svc_h1_target_parse(c->base, &c->to);
    c->n = handles ? handles : 1;
    for (unsigned i = 0; i < c->n; i++)
        c->hs[i].own = (svc_h1)SVC_H1_INIT;
    c->connect_ms = connect_timeout_ms, c->timeout_ms = timeout_ms;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return c;
}

void svc_client_destroy(svc_client *c)
{
    if (!c)
        return;
    if (c->hs) {
        for (unsigned i = 0; i < c->n; i++) {
            curl_easy_cleanup(c->hs[i].h);
            svc_h1_close(&c->hs[i].own);
            curl_slist_free_all(c->hs[i].plain);
            curl_slist_free_all(c->hs[i].typed);
        }
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(c->hs);
    free(c->base);
    free(c);
}

unsigned long svc_client_connects(svc_client *c)
{
    pthread_mutex_lock(&c->mu);
    unsigned long n = c->connects;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static handle *take(svc_client *c)
{
    pthread_mutex_lock(&c->mu);
    handle *h = NULL;
    for (;;) {
        for (unsigned i = 0; i < c->n && !h; i++)
            if (!c->hs[i].busy && (c->hs[i].h || c->hs[i].own.fd >= 0))
                h = &c->hs[i];
        for (unsigned i = 0; i < c->n && !h; i++)
            if (!c->hs[i].busy)
                h = &c->hs[i];
        if (h)
            break;
        pthread_cond_wait(&c->cv, &c->mu);
    }
    h->busy = true;
    pthread_mutex_unlock(&c->mu);
    return h;
}

static void give_back(svc_client *c, handle *h, long connects)
{
    pthread_mutex_lock(&c->mu);
    c->connects += (unsigned long)(connects > 0 ? connects : 0);
    h->busy = false;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* The status an upstream failure becomes. */
static int failure_status(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return 504;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return 503;
    default: return 502;
    }
}

/* Keeps the one upstream header a service passes on (Location, Retry-After). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    svc_resp *resp = arg;
    size_t len = size * n;
    static const char *const keep[] = {"Location", "Retry-After"};
    for (size_t i = 0; i < 2; i++) {
        size_t kl = strlen(keep[i]);
        if (len > kl + 1 && strncasecmp(data, keep[i], kl) == 0 && data[kl] == ':') {
            const char *v = data + kl + 1;
            size_t vl = len - kl - 1;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
            if (vl < sizeof resp->header_value) {
                snprintf(resp->header_name, sizeof resp->header_name, "%s", keep[i]);
                memcpy(resp->header_value, v, vl);
                resp->header_value[vl] = '\0';
            }
        }
    }
    return len;
}

static bool call(svc_client *c, const char *method, const char *path_and_query,
                 const char *content_type, const char *body, size_t body_len, bool pass,
                 svc_resp *resp);

bool svc_client_call(svc_client *c, const char *method, const char *path_and_query,
                     const char *body, size_t body_len, svc_resp *resp)
{
    return call(c, method, path_and_query, NULL, body, body_len, false, resp);
}

bool svc_client_call_ct(svc_client *c, const char *method, const char *path_and_query,
                        const char *content_type, const char *body, size_t body_len, svc_resp *resp)
{
    return call(c, method, path_and_query, content_type, body, body_len, false, resp);
}

bool svc_client_pass(svc_client *c, const char *method, const char *path_and_query,
                     const char *content_type, const char *body, size_t body_len, svc_resp *resp)
{
    return call(c, method, path_and_query, content_type, body, body_len, true, resp);
}

/* "Accept: application/json", an optional Content-Type, and "Expect:" (no 100-continue round
 * trip); NULL when out of memory. */
static struct curl_slist *headers(const char *content_type)
{
    struct curl_slist *l = curl_slist_append(NULL, "Accept: application/json"), *t;
    if (l && content_type) {
        char ct[192];
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        if (!(t = curl_slist_append(l, ct)))
            goto fail;
        l = t;
    }
    if (l && (t = curl_slist_append(l, "Expect:")))
        return t;
fail:
    curl_slist_free_all(l);
    return NULL;
}

/* Makes h's easy handle and sets what every call shares; false when out of memory. */
static bool handle_init(svc_client *c, handle *h)
{
    if (h->h)
        return true;
    if (!(h->plain = h->plain ? h->plain : headers(NULL)) || !(h->h = curl_easy_init()))
        return false;
    CURL *e = h->h;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    return true;
}

/* The headers of a call with a body of `type`, rebuilt only when the type changes. */
static struct curl_slist *typed_headers(handle *h, const char *type)
{
    if (!h->typed || strcmp(h->type, type) != 0) {
        curl_slist_free_all(h->typed);
        h->type[0] = '\0';
        if (!(h->typed = headers(type)))
            return NULL;
        snprintf(h->type, sizeof h->type, "%s", type);
    }
    return h->typed;
}

/* Turns an upstream's answer (status, body p of len bytes, which it frees) into resp. */
static bool answer(svc_client *c, long status, char *p, size_t len, bool pass, svc_resp *resp)
{
    bool ok = false;
    if (status < 100 || status > 599) {
        svc_resp_error(resp, 502, "upstream %s: status %ld", c->base, status);
    } else if (len == 0) {
        svc_resp_json(resp, (int)status, NULL);
        resp->status = (int)status;
        ok = true;
    } else if (pass) {
        /* The bytes are checked, not parsed: the caller sends them on as they came. */
        if (svc_json_valid(p, len)) {
            svc_resp_raw(resp, (int)status, p, len);
            p = NULL;
            ok = true;
        } else {
            svc_resp_error(resp, 502, "upstream %s: not JSON", c->base);
        }
    } else {
        json_error_t je;
        json_t *j = json_loadb(p, len, 0, &je);
        if (!j) {
            svc_resp_error(resp, 502, "upstream %s: not JSON (%s)", c->base, je.text);
        } else {
            svc_resp_json(resp, (int)status, j);
            ok = true;
        }
    }
    free(p);
    return ok;
}

static bool own_call(svc_client *c, const char *method, const char *path_and_query,
                     const char *type, const char *body, size_t body_len, bool pass, svc_resp *resp)
{
    handle *h = take(c);
    svc_h1_answer a;
    long connects = 0;
    char err[256];
    int failed =
        svc_h1_call(&h->own, &c->to, c->connect_ms, c->timeout_ms, method, path_and_query,
                    body ? type : NULL, body, body_len, MAX_ANSWER, &a, &connects, err, sizeof err);
    give_back(c, h, connects);
    resp->header_name[0] = '\0';
    if (failed) {
        svc_resp_error(resp, failed, "upstream %s: %s", c->base, err);
        return false;
    }
    if (a.header_name[0]) {
        snprintf(resp->header_name, sizeof resp->header_name, "%s", a.header_name);
        snprintf(resp->header_value, sizeof resp->header_value, "%s", a.header_value);
    }
    return answer(c, a.status, a.body, a.len, pass, resp);
}

static bool call(svc_client *c, const char *method, const char *path_and_query,
                 const char *content_type, const char *body, size_t body_len, bool pass,
                 svc_resp *resp)
{
    /* A type that would not fit in the cache, or would break the header line, is replaced. */
    const char *type = content_type && strlen(content_type) < sizeof((handle *)0)->type &&
                               !strpbrk(content_type, "\r\n")
                           ? content_type
                           : "application/json";
    if (c->own)
        return own_call(c, method, path_and_query, type, body, body_len, pass, resp);
    char url_buf[512], *url = url_buf;
    size_t ul = strlen(c->base) + strlen(path_and_query) + 1;
    if (ul > sizeof url_buf && !(url = malloc(ul))) {
        svc_resp_error(resp, 500, "out of memory");
        return false;
    }
    snprintf(url, ul, "%s%s", c->base, path_and_query);
    handle *h = take(c);
    struct curl_slist *hdr = NULL;
    if (handle_init(c, h))
        hdr = body ? typed_headers(h, type) : h->plain;
    if (!hdr) {
        give_back(c, h, 0);
        if (url != url_buf)
            free(url);
        svc_resp_error(resp, 500, "libcurl: out of memory");
        return false;
    }
    /* The handle keeps its options from call to call (and its live connections): what a call
     * sets here, every call sets. HTTPGET first undoes the previous call's body and HEAD. */
    CURL *e = h->h;
    buf b = {0};
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    resp->header_name[0] = '\0';
    curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
    CURLcode rc = curl_easy_perform(e);
    long status = 0, connects = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    /* The handle still points at this call's buffers; the next call sets them again first. */
    give_back(c, h, connects);
    if (url != url_buf)
        free(url);
    if (rc != CURLE_OK) {
        resp->header_name[0] = '\0';
        svc_resp_error(resp, b.overflow ? 502 : failure_status(rc), "upstream %s: %s", c->base,
                       b.overflow ? "answer too large" : curl_easy_strerror(rc));
        free(b.p);
        return false;
    }
    return answer(c, status, b.p, b.len, pass, resp);
}
