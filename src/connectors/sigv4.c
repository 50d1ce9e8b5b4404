/* AWS Signature Version 4: canonical request, string to sign and HMAC-SHA256 chain.
 * Follows the published SigV4 algorithm as botocore's SigV4Auth applies it (path: dot
 * segments and repeated slashes removed, then percent-encoded once more; query pairs sorted;
 * header values trimmed and repeated headers joined with commas). */
#include "connectors/aws_int.h"
#include "runtime/errbuf.h"
#include "util/buf.h"
#include "util/hex.h"
#include "weir/aws.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct weir_aws_creds {
    char *access_key_id;
    char *secret;
    char *token; /* NULL without one */
};

static void wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

weir_aws_creds *weir_aws_creds_new(const char *access_key_id, const char *secret_access_key,
                                   const char *session_token)
{
    if (!access_key_id || !*access_key_id || !secret_access_key || !*secret_access_key)
        return NULL;
    weir_aws_creds *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->access_key_id = strdup(access_key_id);
    c->secret = strdup(secret_access_key);
    if (session_token && *session_token)
        c->token = strdup(session_token);
    if (!c->access_key_id || !c->secret || (session_token && *session_token && !c->token)) {
        weir_aws_creds_destroy(c);
        return NULL;
    }
    return c;
}

weir_err weir_aws_creds_from_env(weir_aws_creds **out, char *errstr, size_t errstr_size)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    int no_id = !id || !*id, no_secret = !secret || !*secret;
    *out = NULL;
    if (no_id || no_secret) {
        weir__errf(errstr, errstr_size, "no AWS credentials: %s%s%s not set",
                   no_id ? "AWS_ACCESS_KEY_ID" : "", no_id && no_secret ? " and " : "",
                   no_secret ? "AWS_SECRET_ACCESS_KEY" : "");
        return WEIR_ERR_AUTH;
    }
    *out = weir_aws_creds_new(id, secret, getenv("AWS_SESSION_TOKEN"));
    if (!*out) {
        weir__errf(errstr, errstr_size, "out of memory reading AWS credentials");
        return WEIR_ERR_NOMEM;
    }
    return WEIR_OK;
}

void weir_aws_creds_destroy(weir_aws_creds *creds)
{
    if (!creds)
        return;
    wipe_free(creds->access_key_id);
    wipe_free(creds->secret);
    wipe_free(creds->token);
    free(creds);
}

const char *weir_aws_creds_access_key_id(const weir_aws_creds *creds)
{
    return creds->access_key_id;
}

const char *weir_aws_creds_session_token(const weir_aws_creds *creds)
{
    return creds->token;
}

weir_err weir_aws_region(const weir_conf *conf, char *out, size_t out_size, char *errstr,
                         size_t errstr_size)
{
    const char *src = "aws.region";
    const char *r = conf ? weir_conf_get(conf, "aws.region") : NULL;
    if (!r || !*r) {
        src = "AWS_REGION";
        r = getenv("AWS_REGION");
    }
    if (!r || !*r) {
        src = "AWS_DEFAULT_REGION";
        r = getenv("AWS_DEFAULT_REGION");
    }
    if (!r || !*r) {
        weir__errf(errstr, errstr_size,
                   "no AWS region: set aws.region (--aws-region) or AWS_REGION");
        return WEIR_ERR_NOT_FOUND;
    }
    size_t n = strlen(r);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)r[i]) && r[i] != '-') {
            weir__errf(errstr, errstr_size, "%s: \"%.64s\" is not a region name", src, r);
            return WEIR_ERR_INVALID_ARG;
        }
    if (n >= out_size) {
        weir__errf(errstr, errstr_size, "%s: region name too long", src);
        return WEIR_ERR_INVALID_ARG;
    }
    memcpy(out, r, n + 1);
    return WEIR_OK;
}

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Percent-encodes every byte but the unreserved ones (and '/' when keep_slash). */
static void sb_uri_encode(weir__buf *b, const char *s, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            weir__buf_chr(b, (char)c);
        } else {
            char e[3] = {'%', weir__hexdigit_upper(c >> 4), weir__hexdigit_upper(c)};
            weir__buf_put(b, e, 3);
        }
    }
}

/* Decodes %XX escapes of a query component (a '+' stays a '+'), then encodes it again
 * the SigV4 way, so both raw and already-encoded input give the canonical form. */
static void sb_query_component(weir__buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && weir__hexval(s[i + 1]) >= 0 && weir__hexval(s[i + 2]) >= 0) {
            c = (unsigned char)(weir__hexval(s[i + 1]) * 16 + weir__hexval(s[i + 2]));
            i += 2;
        }
        sb_uri_encode(b, (const char *)&c, 1, 0);
    }
}

typedef struct url_parts {
    const char *host;
    size_t host_len;
    const char *port; /* NULL without one */
    size_t port_len;
    const char *path;
    size_t path_len;
    const char *query; /* NULL without '?' */
    size_t query_len;
    int https;
} url_parts;

static int parse_url(const char *url, url_parts *u)
{
    memset(u, 0, sizeof *u);
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
        u->https = 1;
    } else {
        return -1;
    }
    size_t auth_len = strcspn(p, "/?#");
    const char *auth = p, *auth_end = p + auth_len;
    const char *at = memchr(auth, '@', auth_len);
    if (at)
        auth = at + 1;
    if (auth < auth_end && *auth == '[') {
        const char *rb = memchr(auth, ']', (size_t)(auth_end - auth));
        if (!rb)
            return -1;
        u->host = auth;
        u->host_len = (size_t)(rb + 1 - auth);
        if (rb + 1 < auth_end) {
            if (rb[1] != ':')
                return -1;
            u->port = rb + 2;
            u->port_len = (size_t)(auth_end - u->port);
        }
    } else {
        const char *colon = memchr(auth, ':', (size_t)(auth_end - auth));
        u->host = auth;
        u->host_len = (size_t)((colon ? colon : auth_end) - auth);
        if (colon) {
            u->port = colon + 1;
            u->port_len = (size_t)(auth_end - u->port);
        }
    }
    if (u->host_len == 0)
        return -1;
    for (size_t i = 0; i < u->port_len; i++)
        if (!isdigit((unsigned char)u->port[i]))
            return -1;
    if (u->port && u->port_len == 0)
        u->port = NULL;
    p = auth_end;
    size_t path_len = strcspn(p, "?#");
    u->path = p;
    u->path_len = path_len;
    p += path_len;
    if (*p == '?') {
        u->query = p + 1;
        u->query_len = strcspn(u->query, "#");
    }
    return 0;
}

/* The Host header value botocore derives: lower-case host, the port unless it is the
 * scheme's default. */
static void sb_host(weir__buf *b, const url_parts *u)
{
    for (size_t i = 0; i < u->host_len; i++)
        weir__buf_chr(b, (char)tolower((unsigned char)u->host[i]));
    if (u->port) {
        long port = strtol(u->port, NULL, 10);
        if (port != (u->https ? 443 : 80)) {
            char num[16];
            snprintf(num, sizeof num, ":%ld", port);
            weir__buf_str(b, num);
        }
    }
}

/* Canonical URI: dot segments and empty segments removed (RFC 3986 5.2.4 plus AWS's rule
 * on repeated slashes), then the path is percent-encoded again, keeping '/'. */
static void sb_canonical_path(weir__buf *b, const char *path, size_t len)
{
    if (len == 0) {
        weir__buf_chr(b, '/');
        return;
    }
    /* Segment boundaries, so that ".." can pop the previous one. */
    size_t nseg = 0, cap = 8;
    size_t *starts = malloc(cap * sizeof *starts), *lens = malloc(cap * sizeof *lens);
    if (!starts || !lens) {
        free(starts);
        free(lens);
        b->oom = 1;
        return;
    }
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 0 || (sl == 1 && path[i] == '.')) {
            /* skipped */
        } else if (sl == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (nseg)
                nseg--;
        } else {
            if (nseg == cap) {
                cap *= 2;
                size_t *s2 = realloc(starts, cap * sizeof *s2);
                if (s2)
                    starts = s2;
                size_t *l2 = s2 ? realloc(lens, cap * sizeof *l2) : NULL;
                if (l2)
                    lens = l2;
                if (!s2 || !l2) {
                    free(starts);
                    free(lens);
                    b->oom = 1;
                    return;
                }
            }
            starts[nseg] = i;
            lens[nseg] = sl;
            nseg++;
        }
        i = j + 1;
    }
    if (path[0] == '/')
        weir__buf_chr(b, '/');
    for (size_t k = 0; k < nseg; k++) {
        if (k)
            weir__buf_chr(b, '/');
        sb_uri_encode(b, path + starts[k], lens[k], 1);
    }
    if (path[len - 1] == '/' && nseg)
        weir__buf_chr(b, '/');
    free(starts);
    free(lens);
}

typedef struct qpair {
    char *key, *value; /* canonical (encoded) forms */
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static void sb_canonical_query(weir__buf *b, const char *q, size_t len)
{
    if (!q || len == 0)
        return;
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += q[i] == '&';
    qpair *pairs = calloc(n, sizeof *pairs);
    if (!pairs) {
        b->oom = 1;
        return;
    }
    size_t np = 0, i = 0;
    int bad = 0;
    while (i <= len && !bad) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        const char *eq = memchr(q + i, '=', j - i);
        size_t klen = eq ? (size_t)(eq - (q + i)) : j - i;
        weir__buf k = {0}, v = {0};
        sb_query_component(&k, q + i, klen);
        if (eq)
            sb_query_component(&v, eq + 1, (size_t)(q + j - (eq + 1)));
        weir__buf_reserve(&k, 0);
        weir__buf_reserve(&v, 0);
        if (k.oom || v.oom) {
            free(k.p);
            free(v.p);
            bad = 1;
            break;
        }
        if (!k.p) {
            k.p = strdup("");
        }
        if (!v.p) {
            v.p = strdup("");
        }
        pairs[np].key = k.p;
        pairs[np].value = v.p;
        np++;
        if (!k.p || !v.p)
            bad = 1;
        i = j + 1;
    }
    if (!bad) {
        qsort(pairs, np, sizeof *pairs, qpair_cmp);
        for (size_t k = 0; k < np; k++) {
            if (k)
                weir__buf_chr(b, '&');
            weir__buf_str(b, pairs[k].key);
            weir__buf_chr(b, '=');
            weir__buf_str(b, pairs[k].value);
        }
    } else {
        b->oom = 1;
    }
    for (size_t k = 0; k < np; k++) {
        free(pairs[k].key);
        free(pairs[k].value);
    }
    free(pairs);
}

/* Python's str.split() whitespace within ASCII. */
static int py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Appends `v` trimmed, with runs of whitespace collapsed to one space. */
static void sb_trimall(weir__buf *b, const char *v)
{
    int first = 1;
    const unsigned char *p = (const unsigned char *)v;
    while (*p) {
        while (*p && py_space(*p))
            p++;
        if (!*p)
            break;
        const unsigned char *w = p;
        while (*p && !py_space(*p))
            p++;
        if (!first)
            weir__buf_chr(b, ' ');
        weir__buf_put(b, (const char *)w, (size_t)(p - w));
        first = 0;
    }
}

typedef struct sheader {
    char *name;        /* lower case */
    const char *value; /* not owned */
    size_t order;
} sheader;

static int sheader_cmp(const void *a, const void *b)
{
    const sheader *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static char *lower_dup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    return d;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    static const unsigned char empty = 0;
    SHA256(data ? data : &empty, len, d);
    weir__hex_encode(d, sizeof d, out);
}

static int hmac256(const void *key, size_t klen, const char *msg, size_t mlen,
                   unsigned char out[32])
{
    unsigned int olen = 0;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &olen) &&
                   olen == 32
               ? 0
               : -1;
}

static int format_amz_date(int64_t ms, char out[WEIR_SIGV4_DATE_SIZE])
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return -1;
    return strftime(out, WEIR_SIGV4_DATE_SIZE, "%Y%m%dT%H%M%SZ", &tm) == 16 ? 0 : -1;
}

static int is_name(const char *lname, const char *what)
{
    return strcmp(lname, what) == 0;
}

/* Builds the canonical request and the signed-header list for `req` at `amz_date`. */
static weir_err build_canonical(const weir_aws_creds *creds, const weir_sigv4_request *req,
                                const char *amz_date, weir__buf *cr, weir__buf *signed_hdrs,
                                char *errstr, size_t errstr_size)
{
    url_parts u;
    if (!req->url || parse_url(req->url, &u) != 0) {
        weir__errf(errstr, errstr_size, "SigV4: malformed URL \"%.200s\"",
                   req->url ? req->url : "");
        return WEIR_ERR_INVALID_ARG;
    }
    if (!req->method || !*req->method || !req->region || !*req->region || !req->service ||
        !*req->service) {
        weir__errf(errstr, errstr_size, "SigV4: method, region and service are required");
        return WEIR_ERR_INVALID_ARG;
    }
    size_t cap = req->n_headers + 3;
    sheader *hs = calloc(cap, sizeof *hs);
    if (!hs)
        return WEIR_ERR_NOMEM;
    size_t n = 0;
    int have_host = 0;
    const char *payload_hash = NULL;
    weir_err rc = WEIR_OK;
    weir__buf host = {0};
    for (size_t i = 0; i < req->n_headers; i++) {
        char *l = lower_dup(req->headers[i].name);
        if (!l) {
            rc = WEIR_ERR_NOMEM;
            goto out;
        }
        if (is_name(l, "authorization") || is_name(l, "user-agent") || is_name(l, "expect") ||
            is_name(l, "x-amzn-trace-id") || is_name(l, "x-amz-date") ||
            (creds->token && is_name(l, "x-amz-security-token"))) {
            free(l);
            continue;
        }
        if (is_name(l, "host"))
            have_host = 1;
        if (is_name(l, "x-amz-content-sha256"))
            payload_hash = req->headers[i].value;
        hs[n++] = (sheader){l, req->headers[i].value ? req->headers[i].value : "", i};
    }
    if (!have_host) {
        sb_host(&host, &u);
        if (host.oom || !(hs[n].name = strdup("host"))) {
            rc = WEIR_ERR_NOMEM;
            goto out;
        }
        hs[n].value = host.p;
        hs[n++].order = req->n_headers;
    }
    if (!(hs[n].name = strdup("x-amz-date"))) {
        rc = WEIR_ERR_NOMEM;
        goto out;
    }
    hs[n].value = amz_date;
    hs[n++].order = req->n_headers + 1;
    if (creds->token) {
        if (!(hs[n].name = strdup("x-amz-security-token"))) {
            rc = WEIR_ERR_NOMEM;
            goto out;
        }
        hs[n].value = creds->token;
        hs[n++].order = req->n_headers + 2;
    }
    qsort(hs, n, sizeof *hs, sheader_cmp);

    for (const char *m = req->method; *m; m++)
        weir__buf_chr(cr, (char)toupper((unsigned char)*m));
    weir__buf_chr(cr, '\n');
    sb_canonical_path(cr, u.path, u.path_len);
    weir__buf_chr(cr, '\n');
    sb_canonical_query(cr, u.query, u.query_len);
    weir__buf_chr(cr, '\n');
    for (size_t i = 0; i < n; i++) {
        int same = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
        if (same) {
            weir__buf_chr(cr, ',');
        } else {
            if (i)
                weir__buf_chr(cr, '\n');
            weir__buf_str(cr, hs[i].name);
            weir__buf_chr(cr, ':');
            if (signed_hdrs->len)
                weir__buf_chr(signed_hdrs, ';');
            weir__buf_str(signed_hdrs, hs[i].name);
        }
        sb_trimall(cr, hs[i].value);
    }
    weir__buf_str(cr, "\n\n");
    weir__buf_str(cr, signed_hdrs->p ? signed_hdrs->p : "");
    weir__buf_chr(cr, '\n');
    if (payload_hash) {
        weir__buf_str(cr, payload_hash);
    } else {
        char h[65];
        sha256_hex(req->body, req->body_len, h);
        weir__buf_str(cr, h);
    }
    if (cr->oom || signed_hdrs->oom)
        rc = WEIR_ERR_NOMEM;
out:
    for (size_t i = 0; i < n; i++)
        free(hs[i].name);
    free(hs);
    free(host.p);
    if (rc == WEIR_ERR_NOMEM)
        weir__errf(errstr, errstr_size, "SigV4: out of memory");
    return rc;
}

static void sb_string_to_sign(weir__buf *sts, const weir_sigv4_request *req, const char *amz_date,
                              const weir__buf *cr)
{
    char h[65];
    sha256_hex(cr->p, cr->len, h);
    weir__buf_str(sts, "AWS4-HMAC-SHA256\n");
    weir__buf_str(sts, amz_date);
    weir__buf_chr(sts, '\n');
    weir__buf_put(sts, amz_date, 8);
    weir__buf_chr(sts, '/');
    weir__buf_str(sts, req->region);
    weir__buf_chr(sts, '/');
    weir__buf_str(sts, req->service);
    weir__buf_str(sts, "/aws4_request\n");
    weir__buf_str(sts, h);
}

weir_err weir_sigv4_canonical(const weir_aws_creds *creds, const weir_sigv4_request *req,
                              char **canonical_request, char **string_to_sign, char *errstr,
                              size_t errstr_size)
{
    char amz_date[WEIR_SIGV4_DATE_SIZE];
    *canonical_request = *string_to_sign = NULL;
    if (format_amz_date(req->time_ms, amz_date) != 0) {
        weir__errf(errstr, errstr_size, "SigV4: signing time out of range");
        return WEIR_ERR_INVALID_ARG;
    }
    weir__buf cr = {0}, sh = {0}, sts = {0};
    weir_err rc = build_canonical(creds, req, amz_date, &cr, &sh, errstr, errstr_size);
    if (rc == WEIR_OK) {
        sb_string_to_sign(&sts, req, amz_date, &cr);
        if (sts.oom) {
            rc = WEIR_ERR_NOMEM;
            weir__errf(errstr, errstr_size, "SigV4: out of memory");
        }
    }
    free(sh.p);
    if (rc != WEIR_OK) {
        free(cr.p);
        free(sts.p);
        return rc;
    }
    *canonical_request = cr.p;
    *string_to_sign = sts.p;
    return WEIR_OK;
}

weir_err weir_sigv4_sign(const weir_aws_creds *creds, const weir_sigv4_request *req, char *amz_date,
                         char *auth, size_t auth_size, char *errstr, size_t errstr_size)
{
    if (format_amz_date(req->time_ms, amz_date) != 0) {
        weir__errf(errstr, errstr_size, "SigV4: signing time out of range");
        return WEIR_ERR_INVALID_ARG;
    }
    weir__buf cr = {0}, sh = {0}, sts = {0};
    weir_err rc = build_canonical(creds, req, amz_date, &cr, &sh, errstr, errstr_size);
    if (rc != WEIR_OK)
        goto out;
    sb_string_to_sign(&sts, req, amz_date, &cr);
    if (sts.oom) {
        rc = WEIR_ERR_NOMEM;
        weir__errf(errstr, errstr_size, "SigV4: out of memory");
        goto out;
    }

    /* kSecret = "AWS4" + secret; kDate, kRegion, kService, kSigning; signature = hex(HMAC). */
    size_t slen = strlen(creds->secret);
    char *k0 = malloc(slen + 5);
    if (!k0) {
        rc = WEIR_ERR_NOMEM;
        weir__errf(errstr, errstr_size, "SigV4: out of memory");
        goto out;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, creds->secret, slen + 1);
    unsigned char k[32], sig[32];
    int bad = hmac256(k0, slen + 4, amz_date, 8, k) ||
              hmac256(k, 32, req->region, strlen(req->region), k) ||
              hmac256(k, 32, req->service, strlen(req->service), k) ||
              hmac256(k, 32, "aws4_request", 12, k) || hmac256(k, 32, sts.p, sts.len, sig);
    OPENSSL_cleanse(k0, slen + 4);
    OPENSSL_cleanse(k, sizeof k);
    free(k0);
    if (bad) {
        rc = WEIR_ERR_FATAL;
        weir__errf(errstr, errstr_size, "SigV4: HMAC-SHA256 failed in OpenSSL");
        goto out;
    }
    char sighex[65];
    weir__hex_encode(sig, sizeof sig, sighex);
    int len = snprintf(auth, auth_size,
                       "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
                       "SignedHeaders=%s, Signature=%s",
                       creds->access_key_id, amz_date, req->region, req->service, sh.p, sighex);
    if (len < 0 || (size_t)len >= auth_size) {
        rc = WEIR_ERR_INVALID_ARG;
        weir__errf(errstr, errstr_size, "SigV4: Authorization needs %d bytes, buffer has %zu", len,
                   auth_size);
    }
out:
    free(cr.p);
    free(sh.p);
    free(sts.p);
    return rc;
}

/* Shorter pieces of a credential are not masked on their own: fewer than 16 characters of a
 * random key give nothing away, and a shorter piece would mask ordinary words. */
#define MASK_MIN_PIECE 16

/* Replaces s[i, i + n) with "***" (or n stars when n < 3): the string never grows. */
static size_t mask_at(char *s, size_t i, size_t n)
{
    size_t m = n < 3 ? n : 3;
    memset(s + i, '*', m);
    memmove(s + i + m, s + i + n, strlen(s + i + n) + 1);
    return i + m;
}

/* The length of the longest run of `cred` that `s` starts with. */
static size_t longest_piece(const char *s, const char *cred, size_t cred_len)
{
    size_t best = 0;
    for (size_t k = 0; k < cred_len && cred_len - k > best; k++) {
        size_t n = 0;
        while (k + n < cred_len && s[n] == cred[k + n])
            n++;
        if (n > best)
            best = n;
    }
    return best;
}

static void mask_cred(char *s, const char *cred)
{
    if (!cred || !*cred)
        return;
    size_t n = strlen(cred);
    if (n < MASK_MIN_PIECE) {
        for (char *p = s; (p = strstr(p, cred)) != NULL;)
            p = s + mask_at(s, (size_t)(p - s), n);
        return;
    }
    /* A whole occurrence is one piece; so is what a server or a buffer left of one. */
    for (size_t i = 0; s[i];) {
        size_t piece = longest_piece(s + i, cred, n);
        i = piece >= MASK_MIN_PIECE ? mask_at(s, i, piece) : i + 1;
    }
}

void weir__aws_creds_mask(const weir_aws_creds *creds, char *s)
{
    if (!creds || !s)
        return;
    /* Longest first: a token may contain the key id, never the reverse in practice. */
    mask_cred(s, creds->token);
    mask_cred(s, creds->secret);
    mask_cred(s, creds->access_key_id);
    static const char sig[] = "Signature=";
    for (char *p = s; (p = strstr(p, sig)) != NULL;) {
        p += sizeof sig - 1;
        size_t n = 0;
        while (isxdigit((unsigned char)p[n]))
            n++;
        if (n)
            p = s + mask_at(s, (size_t)(p - s), n);
    }
}
