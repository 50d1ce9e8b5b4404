/* The Nexmark queries over weir's public API (nexmark_queries.h, docs/NEXMARK.md). */
#include "nexmark_queries.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "weir/conf.h"
#include "weir/fields.h"
#include "weir/gwindow.h"
#include "weir/output.h"
#include "weir/spec.h"
#include "weir/watermark.h"

const char *const nxq_names[] = {"q0", "q1", "q2", "q5", "q7", "q11", "q15", "q16", NULL};

/* The generic job's configurations: examples/nexmark/qN.conf without their comments (the
 * test checks that they are the same lines). */
#define NX_COMMON                                                                                  \
    "timestamp.field = date_time\n"                                                                \
    "timestamp.unit = ms\n"                                                                        \
    "watermark.out.of.orderness = 4s\n"                                                            \
    "window.allowed.lateness = 0\n"                                                                \
    "emit.mode = final\n"                                                                          \
    "where = type = bid\n"
#define NX_Q15_AGGS                                                                                \
    "window.spec = tumble:1d\n"                                                                    \
    "aggregates = count() as total_bids\n"                                                         \
    "aggregates = count() where price < 10000 as rank1_bids\n"                                     \
    "aggregates = count() where price >= 10000 and price < 1000000 as rank2_bids\n"                \
    "aggregates = count() where price >= 1000000 as rank3_bids\n"                                  \
    "aggregates = count_distinct(bidder) as total_bidders\n"                                       \
    "aggregates = count_distinct(bidder) where price < 10000 as rank1_bidders\n"                   \
    "aggregates = count_distinct(bidder) where price >= 10000 and price < 1000000 as "             \
    "rank2_bidders\n"                                                                              \
    "aggregates = count_distinct(bidder) where price >= 1000000 as rank3_bidders\n"                \
    "aggregates = count_distinct(auction) as total_auctions\n"                                     \
    "aggregates = count_distinct(auction) where price < 10000 as rank1_auctions\n"                 \
    "aggregates = count_distinct(auction) where price >= 10000 and price < 1000000 as "            \
    "rank2_auctions\n"                                                                             \
    "aggregates = count_distinct(auction) where price >= 1000000 as rank3_auctions\n"

static const char Q11_CONF[] = NX_COMMON "key.field = bidder\n"
                                         "window.spec = session:10s\n"
                                         "aggregates = count() as bid_count\n";
static const char Q15_CONF[] = NX_COMMON "global = true\n" NX_Q15_AGGS;
static const char Q16_CONF[] = NX_COMMON "key.field = channel\n" NX_Q15_AGGS;

const char *nxq_config(const char *name)
{
    if (!strcmp(name, "q11"))
        return Q11_CONF;
    if (!strcmp(name, "q15"))
        return Q15_CONF;
    if (!strcmp(name, "q16"))
        return Q16_CONF;
    return NULL;
}

/* The event fields a query can read, and how a pre-decoded event fills them. */
enum { EF_TYPE, EF_AUCTION, EF_BIDDER, EF_PRICE, EF_CHANNEL, EF_EXTRA, EF_DATE_TIME, EF_N };
static const char *const EF_PATH[EF_N] = {"type",    "auction", "bidder",   "price",
                                          "channel", "extra",   "date_time"};

/* One window of q5 being collected from the operator's firings: the auctions with the
 * highest count so far. */
typedef struct q5_win {
    int64_t start, end, max;
    size_t n, cap;
    char (*auctions)[24];
} q5_win;

/* q7's aggregate: the bids with the highest price of the window, as JSON fragments. */
typedef struct q7_params {
    int auction, bidder, extra;
} q7_params;

typedef struct q7_state {
    int64_t max;
    int64_t has;
    char *buf;
    size_t len, cap;
} q7_state;

struct nxq {
    int q; /* 0, 1, 2, 5, 7, 11, 15, 16 */
    FILE *out;
    char *obuf;
    size_t olen, ocap;
    weir_err out_err;
    weir_fields *fields;
    int fi[EF_N];  /* index of each event field read, -1 when not */
    int *by_index; /* EF_* of each field index */
    size_t nf;
    weir_pred **wheres;
    size_t n_wheres;
    /* windowed queries */
    weir_conf *conf;
    weir_key *key;
    const char *key_paths[WEIR_KEY_MAX_FIELDS];
    size_t n_keys;
    weir_aggs *aggs;
    weir_gagg_def def; /* q5, q7 */
    q7_params q7p;
    weir_gwindow *op;
    char *json;
    size_t json_cap;
    int64_t max_ts;
    int have_ts;
    size_t batch, n_rows;
    weir_row *rows;
    weir_value *vals;
    size_t *key_off;
    char *keybuf;
    size_t key_len, key_cap;
    q5_win *wins;
    size_t n_wins, cap_wins;
    nxq_stats st;
};

/* ------------------------------------------------------------------------------ output */

static weir_err out_flush(nxq *q)
{
    if (q->olen && q->out && q->out_err == WEIR_OK &&
        fwrite(q->obuf, 1, q->olen, q->out) != q->olen)
        q->out_err = WEIR_ERR_IO;
    q->olen = 0;
    return q->out_err;
}

/* Room for `n` more bytes of output. */
static char *out_room(nxq *q, size_t n)
{
    if (q->olen + n > q->ocap) {
        out_flush(q);
        if (n > q->ocap) {
            char *b = realloc(q->obuf, n);
            if (!b)
                return NULL;
            q->obuf = b;
            q->ocap = n;
        }
    }
    return q->obuf + q->olen;
}

static size_t put_i64(char *p, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10));
    size_t k = 0;
    if (v < 0)
        p[k++] = '-';
    while (n)
        p[k++] = tmp[--n];
    return k;
}

static size_t put_s(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return n;
}

/* ------------------------------------------------------------------------------ q1's price */

/* Writes the decimal m / 10^k (k > 0) without trailing zeros after the point, ".0" if none. */
static size_t put_fixed(char *p, int neg, unsigned __int128 m, int k)
{
    char t[48];
    int n = 0;
    while (k > 0 && m % 10 == 0) {
        m /= 10;
        k--;
    }
    for (int j = 0; j < k || m || j <= k; j++) {
        t[n++] = (char)('0' + (int)(m % 10));
        m /= 10;
        if (j == k - 1)
            t[n++] = '.';
    }
    size_t len = 0;
    if (neg)
        p[len++] = '-';
    while (n)
        p[len++] = t[--n];
    if (k == 0) {
        memcpy(p + len, ".0", 2);
        len += 2;
    }
    return len;
}

/*
 * price x 0.908 as weir_format_double() writes it (the shortest text that reads back), without
 * printf: the product is usually the double nearest to price x 908 / 1000 (three decimals);
 * otherwise the 16-, then the 17-significant-digit decimal nearest to the double, found and
 * checked exactly in 128-bit integers, the first that reads back (where weir_format_double()
 * runs snprintf and strtod for 16 and 17 digits: a fifth of the prices, most of q1's time).
 * When two texts of the shortest length read back, this one is the nearer (as printf's and
 * Python's); weir_format_double() may write the other (0.03% of prices), as short and exact.
 */
static size_t q1_price(int64_t price, char *p)
{
    double d = (double)price * 0.908;
    if (price <= 0 || price >= 1000000000000LL)
        return weir_format_double(d, p);
    int64_t c = price * 908;
    if ((double)c / 1000.0 == d)
        return put_fixed(p, 0, (unsigned __int128)c, 3);
    int e;
    double fr = frexp(d, &e); /* d = fr * 2^e, 0.5 <= fr < 1 */
    uint64_t mant = (uint64_t)ldexp(fr, 53);
    int s = 53 - e; /* d = mant / 2^s */
    if (d < 1.0 || s < 1 || s > 60 || mant == (1ull << 52))
        return weir_format_double(d, p);
    int int_digits = 0;
    for (uint64_t v = (uint64_t)d; v; v /= 10)
        int_digits++;
    /* Not three decimals: then no text of 15 significant digits or fewer reads back either
     * (it would be within two ulps of price x 908 / 1000, and two such decimals are further
     * apart than that), so the search starts at 16. */
    unsigned __int128 p10 = 1;
    for (int i = 0; i < 16 - int_digits; i++)
        p10 *= 10;
    const unsigned __int128 half = (unsigned __int128)1 << (s - 1);
    for (int k = 16 - int_digits; k <= 17 - int_digits; k++, p10 *= 10) {
        unsigned __int128 num = (unsigned __int128)mant * p10; /* d * 10^k * 2^s */
        unsigned __int128 m = (num + half) >> s;               /* the nearest k-decimal */
        if (((num + half) & ((half << 1) - 1)) == 0 && (m & 1))
            m--; /* an exact tie: half to even, as printf */
        /* Reads back to d when |m / 10^k - mant / 2^s| < 2^-s / 2, i.e.
         * |m * 2^s - mant * 10^k| * 2 < 10^k (equal: a tie, to the even mantissa). */
        unsigned __int128 lhs = m << s;
        unsigned __int128 diff = lhs > num ? lhs - num : num - lhs;
        if (diff * 2 < p10 || (diff * 2 == p10 && !(mant & 1)) || k == 17 - int_digits)
            return put_fixed(p, 0, m, k);
    }
    return weir_format_double(d, p);
}

/* ------------------------------------------------------------------------------ q7's aggregate */

static void q7_init(void *state, const void *params)
{
    (void)state;
    (void)params;
}

static weir_err q7_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    q7_state *s = state;
    const q7_params *p = params;
    if (v->type != WEIR_VALUE_INT || (s->has && v->u.i < s->max))
        return WEIR_OK;
    /* nxq's own loop only passes bids with these fields; the generic job (q7 on Kafka)
     * passes every bid, and one without them has no place among the results. */
    if (r->values[p->auction].type != WEIR_VALUE_INT ||
        r->values[p->bidder].type != WEIR_VALUE_INT ||
        r->values[p->extra].type != WEIR_VALUE_STRING)
        return WEIR_OK;
    const weir_slice extra = r->values[p->extra].u.s;
    size_t need = 128 + 6 * extra.len;
    if (s->has && v->u.i == s->max)
        need += s->len;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < need)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return WEIR_ERR_NOMEM;
        s->buf = b;
        s->cap = cap;
    }
    if (!s->has || v->u.i > s->max) {
        s->len = 0;
        s->max = v->u.i;
        s->has = 1;
    } else {
        s->buf[s->len++] = '\n';
    }
    char *p0 = s->buf + s->len, *o = p0;
    o += put_s(o, "{\"auction\":");
    o += put_i64(o, r->values[p->auction].u.i);
    o += put_s(o, ",\"price\":");
    o += put_i64(o, v->u.i);
    o += put_s(o, ",\"bidder\":");
    o += put_i64(o, r->values[p->bidder].u.i);
    o += put_s(o, ",\"date_time\":");
    o += put_i64(o, r->ts);
    o += put_s(o, ",\"extra\":");
    o += weir_json_quote(extra, o, s->cap - (size_t)(o - s->buf));
    s->len += (size_t)(o - p0);
    return WEIR_OK;
}

static weir_err q7_result(void *state, const void *params, weir_value *out)
{
    q7_state *s = state;
    (void)params;
    out->type = WEIR_VALUE_STRING;
    out->u.s = (weir_slice){s->buf ? s->buf : "", s->len};
    return WEIR_OK;
}

static void q7_free(void *state, const void *params)
{
    (void)params;
    free(((q7_state *)state)->buf);
}

static size_t q7_heap(const void *state, const void *params)
{
    (void)params;
    return ((const q7_state *)state)->cap;
}

/* Checkpoints (q7 on Kafka) carry the state as: u8 has (0 or 1), i64 max, u32 length, then
 * the JSON fragments of the bids at that price, one a line; little-endian. */
#define Q7_SER_HEAD 13

static size_t q7_ser_size(const void *state, const void *params)
{
    (void)params;
    return Q7_SER_HEAD + ((const q7_state *)state)->len;
}

static size_t q7_serialize(const void *state, uint8_t *out, const void *params)
{
    const q7_state *s = state;
    (void)params;
    uint64_t m = (uint64_t)s->max;
    out[0] = (uint8_t)(s->has != 0);
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(m >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[9 + i] = (uint8_t)((uint32_t)s->len >> (8 * i));
    if (s->len)
        memcpy(out + Q7_SER_HEAD, s->buf, s->len);
    return Q7_SER_HEAD + s->len;
}

static weir_err q7_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    q7_state *s = state;
    (void)params;
    if (len < Q7_SER_HEAD || in[0] > 1)
        return WEIR_ERR_CORRUPT;
    uint64_t m = 0;
    uint32_t n = 0;
    for (int i = 0; i < 8; i++)
        m |= (uint64_t)in[1 + i] << (8 * i);
    for (int i = 0; i < 4; i++)
        n |= (uint32_t)in[9 + i] << (8 * i);
    /* An empty state has no bids; a state with a maximum has at least one, without NULs
     * (they are written out as they are). */
    if (n != len - Q7_SER_HEAD || (in[0] == 0) != (n == 0) || memchr(in + Q7_SER_HEAD, '\0', n))
        return WEIR_ERR_CORRUPT;
    if (n && !(s->buf = malloc(n)))
        return WEIR_ERR_NOMEM;
    if (n)
        memcpy(s->buf, in + Q7_SER_HEAD, n);
    s->len = s->cap = n;
    s->has = in[0];
    s->max = (int64_t)m;
    return WEIR_OK;
}

/* A data engineer's aggregate through the public interface: tumbling windows need no merge. */
static const weir_gagg_ops Q7_MAX_BIDS = {
    .name = "max_bids",
    .state_size = sizeof(q7_state),
    .init = q7_init,
    .add = q7_add,
    .result = q7_result,
    .serialized_size = q7_ser_size,
    .serialize = q7_serialize,
    .deserialize = q7_deserialize,
    .free = q7_free,
    .heap_bytes = q7_heap,
};

/* ------------------------------------------------------------------------------ firings */

static void put_window(char **o, int64_t start, int64_t end)
{
    *o += put_s(*o, ",\"window_start\":\"");
    *o += weir_format_iso8601(start, *o);
    *o += put_s(*o, "\",\"window_end\":\"");
    *o += weir_format_iso8601(end, *o);
    *o += put_s(*o, "\"}\n");
}

/* q5: the firings of one window are gathered, keeping the auctions of the highest count; the
 * window is written once the operator call that fired it returns. */
static int q5_collect(q5_win **wins, size_t *n_wins, size_t *cap_wins, const weir_gwindow_firing *f)
{
    int64_t c = f->values[0].u.i;
    q5_win *w = NULL;
    for (size_t i = *n_wins; i-- > 0;)
        if ((*wins)[i].start == f->window_start) {
            w = &(*wins)[i];
            break;
        }
    if (!w) {
        if (*n_wins == *cap_wins) {
            size_t cap = *cap_wins ? *cap_wins * 2 : 8;
            q5_win *nw = realloc(*wins, cap * sizeof *nw);
            if (!nw)
                return -1;
            memset(nw + *cap_wins, 0, (cap - *cap_wins) * sizeof *nw);
            *wins = nw;
            *cap_wins = cap;
        }
        w = &(*wins)[(*n_wins)++];
        w->start = f->window_start;
        w->end = f->window_end;
        w->max = c;
        w->n = 0;
    }
    if (c < w->max)
        return 0;
    if (c > w->max) {
        w->max = c;
        w->n = 0;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        char(*na)[24] = realloc(w->auctions, cap * sizeof *na);
        if (!na)
            return -1;
        w->auctions = na;
        w->cap = cap;
    }
    size_t n = f->key.len < 23 ? f->key.len : 23;
    memcpy(w->auctions[w->n], f->key.ptr, n);
    w->auctions[w->n][n] = '\0';
    w->n++;
    return 0;
}

static int q5_firing(nxq *q, const weir_gwindow_firing *f)
{
    return q5_collect(&q->wins, &q->n_wins, &q->cap_wins, f);
}

/* One line of q5 (with its newline) at p, at most 160 bytes: its length. */
static size_t q5_line(char *p, const q5_win *w, size_t k)
{
    char *o = p;
    p += put_s(p, "{\"auction\":");
    p += put_s(p, w->auctions[k]);
    p += put_s(p, ",\"num\":");
    p += put_i64(p, w->max);
    put_window(&p, w->start, w->end);
    return (size_t)(p - o);
}

static weir_err q5_write(nxq *q)
{
    for (size_t i = 0; i < q->n_wins; i++) {
        q5_win *w = &q->wins[i];
        for (size_t k = 0; k < w->n; k++) {
            char *o = out_room(q, 160);
            if (!o)
                return WEIR_ERR_NOMEM;
            q->olen += q5_line(o, w, k);
            q->st.outputs++;
        }
    }
    q->n_wins = 0;
    return q->out_err;
}

static int q7_firing(nxq *q, const weir_gwindow_firing *f)
{
    weir_slice s = f->values[0].u.s;
    const char *p = s.ptr, *e = s.ptr + s.len;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        size_t n = (size_t)((nl ? nl : e) - p);
        char *o = out_room(q, n + 128);
        if (!o)
            return -1;
        memcpy(o, p, n);
        char *w = o + n;
        put_window(&w, f->window_start, f->window_end);
        q->olen += (size_t)(w - o);
        q->st.outputs++;
        p = nl ? nl + 1 : e;
    }
    return 0;
}

static int generic_firing(nxq *q, const weir_gwindow_firing *f)
{
    weir_slice parts[WEIR_KEY_MAX_FIELDS];
    if (q->key && weir_key_parts(q->key, f->key, parts) != 0)
        return -1;
    size_t n_aggs;
    const weir_gagg_def *defs = weir_aggs_defs(q->aggs, &n_aggs);
    size_t need =
        weir_gfiring_to_json(f, q->key_paths, parts, q->n_keys, defs, q->json, q->json_cap);
    if (need >= q->json_cap) {
        char *nb = realloc(q->json, need + 256);
        if (!nb)
            return -1;
        q->json = nb;
        q->json_cap = need + 256;
        weir_gfiring_to_json(f, q->key_paths, parts, q->n_keys, defs, q->json, q->json_cap);
    }
    char *o = out_room(q, need + 1);
    if (!o)
        return -1;
    memcpy(o, q->json, need);
    o[need] = '\n';
    q->olen += need + 1;
    q->st.outputs++;
    return 0;
}

static int on_firing(void *opaque, const weir_gwindow_firing *f)
{
    nxq *q = opaque;
    int rc = q->q == 5 ? q5_firing(q, f) : q->q == 7 ? q7_firing(q, f) : generic_firing(q, f);
    return rc != 0 || q->out_err != WEIR_OK ? -1 : 0;
}

/* ------------------------------------------------------------------------------ set-up */

void nxq_destroy(nxq *q)
{
    if (!q)
        return;
    weir_gwindow_destroy(q->op);
    for (size_t i = 0; i < q->n_wheres; i++)
        weir_pred_destroy(q->wheres[i]);
    free(q->wheres);
    weir_aggs_destroy(q->aggs);
    weir_key_destroy(q->key);
    weir_fields_destroy(q->fields);
    weir_conf_destroy(q->conf);
    for (size_t i = 0; i < q->cap_wins; i++)
        free(q->wins[i].auctions);
    free(q->wins);
    free(q->by_index);
    free(q->json);
    free(q->rows);
    free(q->vals);
    free(q->key_off);
    free(q->keybuf);
    free(q->obuf);
    free(q);
}

typedef struct list_ctx {
    nxq *q;
    weir_err rc;
    char *err;
    size_t err_size;
} list_ctx;

static int add_where(void *opaque, const char *item)
{
    list_ctx *c = opaque;
    nxq *q = c->q;
    weir_pred **w = realloc(q->wheres, (q->n_wheres + 1) * sizeof *w);
    if (!w) {
        c->rc = WEIR_ERR_NOMEM;
        return 1;
    }
    q->wheres = w;
    c->rc = weir_pred_parse(item, q->fields, &q->wheres[q->n_wheres], c->err, c->err_size);
    if (c->rc != WEIR_OK)
        return 1;
    q->n_wheres++;
    return 0;
}

static int add_agg(void *opaque, const char *item)
{
    list_ctx *c = opaque;
    c->rc = weir_aggs_add(c->q->aggs, item, c->err, c->err_size);
    return c->rc != WEIR_OK;
}

/* Reads "key = value" lines (# comments) into conf. */
static weir_err conf_from_text(weir_conf *conf, const char *text, char *err, size_t err_size)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        p += n + (nl != NULL);
        char *eq = strstr(line, " = ");
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        weir_err rc = weir_conf_set(conf, line, eq + 3, err, err_size);
        if (rc != WEIR_OK)
            return rc;
    }
    return WEIR_OK;
}

weir_err nxq_config_apply(weir_conf *conf, const char *name, char *err, size_t err_size)
{
    const char *text = nxq_config(name);
    if (!text)
        text = nxq_step_config(name);
    return conf_from_text(conf, text ? text : NX_COMMON, err, err_size);
}

weir_err nxq_new(const char *name, FILE *out, nxq **qp, char *err, size_t err_size)
{
    int num = -1;
    for (size_t i = 0; nxq_names[i]; i++)
        if (!strcmp(name, nxq_names[i]))
            num = atoi(name + 1);
    if (num < 0) {
        snprintf(err, err_size,
                 "unknown query \"%.40s\" (accepted: q0, q1, q2, q5, q7, q11, q15, q16)", name);
        return WEIR_ERR_INVALID_ARG;
    }
    nxq *q = calloc(1, sizeof *q);
    if (!q)
        return WEIR_ERR_NOMEM;
    q->q = num;
    q->out = out;
    q->ocap = 1u << 20;
    q->batch = 1024;
    weir_err rc = WEIR_ERR_NOMEM;
    if (!(q->obuf = malloc(q->ocap)) || !(q->conf = weir_conf_new()))
        goto fail;
    /* Every query is a configuration of the generic pieces; q0-q7 set theirs here. */
    const char *text = nxq_config(name);
    rc = conf_from_text(q->conf, text ? text : NX_COMMON, err, err_size);
    if (rc != WEIR_OK)
        goto fail;
    rc = weir_fields_new("date_time", WEIR_TS_MILLIS, 1u << 20, &q->fields, err, err_size);
    if (rc != WEIR_OK)
        goto fail;
    list_ctx c = {q, WEIR_OK, err, err_size};
    if (num >= 11 && !weir_conf_get_bool(q->conf, "global")) {
        if ((rc = weir_key_parse(weir_conf_get(q->conf, "key.field"), q->fields, &q->key, err,
                                 err_size)) != WEIR_OK)
            goto fail;
        q->n_keys = weir_key_count(q->key);
        for (size_t i = 0; i < q->n_keys; i++)
            q->key_paths[i] = weir_key_path(q->key, i);
    } else if (num == 5) {
        if ((rc = weir_key_parse("auction", q->fields, &q->key, err, err_size)) != WEIR_OK)
            goto fail;
    }
    if (weir_conf_get_list(q->conf, "where", add_where, &c) != 0) {
        rc = c.rc != WEIR_OK ? c.rc : WEIR_ERR_NOMEM;
        goto fail;
    }
    for (int k = 0; k < EF_N; k++)
        q->fi[k] = -1;
    static const int READS[][EF_N] = {
        [0] = {EF_AUCTION, EF_BIDDER, EF_PRICE, EF_EXTRA, -1},
        [1] = {EF_AUCTION, EF_BIDDER, EF_PRICE, EF_EXTRA, -1},
        [2] = {EF_AUCTION, EF_PRICE, -1},
        [5] = {EF_AUCTION, -1},
        [7] = {EF_AUCTION, EF_BIDDER, EF_PRICE, EF_EXTRA, -1},
        [11] = {-1},
        [15] = {-1},
        [16] = {-1},
    };
    for (int k = 0; READS[num][k] >= 0 && k < EF_N; k++) {
        int e = READS[num][k];
        if ((q->fi[e] = weir_fields_add(q->fields, EF_PATH[e], err, err_size)) < 0) {
            rc = q->fi[e] == -2 ? WEIR_ERR_NOMEM : WEIR_ERR_INVALID_ARG;
            goto fail;
        }
    }
    if (num >= 5) {
        weir_gwindow_params p;
        memset(&p, 0, sizeof p);
        if (num >= 11) {
            if (!(q->aggs = weir_aggs_new(q->fields, 12))) {
                rc = WEIR_ERR_NOMEM;
                goto fail;
            }
            if (weir_conf_get_list(q->conf, "aggregates", add_agg, &c) != 0) {
                rc = c.rc != WEIR_OK ? c.rc : WEIR_ERR_NOMEM;
                goto fail;
            }
            p.aggs = weir_aggs_defs(q->aggs, &p.n_aggs);
            rc = weir_window_spec_parse(weir_conf_get(q->conf, "window.spec"), &p.spec, err,
                                        err_size);
            if (rc != WEIR_OK)
                goto fail;
        } else if (num == 5) {
            q->def = (weir_gagg_def){&weir_gagg_count, NULL, -1, NULL, NULL, "num"};
            p.spec = (weir_window_spec){WEIR_WINDOW_HOP, 10000, 2000, 0, 0};
        } else {
            q->q7p = (q7_params){q->fi[EF_AUCTION], q->fi[EF_BIDDER], q->fi[EF_EXTRA]};
            q->def = (weir_gagg_def){&Q7_MAX_BIDS, &q->q7p, q->fi[EF_PRICE], NULL, NULL, "bids"};
            p.spec = (weir_window_spec){WEIR_WINDOW_TUMBLE, 10000, 0, 0, 0};
        }
        if (num < 11) {
            p.aggs = &q->def;
            p.n_aggs = 1;
        }
        p.allowed_lateness_ms = weir_conf_get_duration_ms(q->conf, "window.allowed.lateness");
        p.emit = WEIR_EMIT_FINAL;
        weir_wm_params_from_conf(q->conf, &p.wm);
        p.partitions = 1;
        if (!(q->op = weir_gwindow_new(&p, on_firing, q, err, err_size))) {
            rc = strcmp(err, "out of memory") ? WEIR_ERR_INVALID_ARG : WEIR_ERR_NOMEM;
            goto fail;
        }
    }
    q->nf = weir_fields_count(q->fields);
    q->rows = malloc(q->batch * sizeof *q->rows);
    q->vals = malloc(q->batch * (q->nf + 1) * sizeof *q->vals);
    q->key_off = malloc(q->batch * sizeof *q->key_off);
    q->by_index = malloc((q->nf + 1) * sizeof *q->by_index);
    if (!q->rows || !q->vals || !q->key_off || !q->by_index) {
        rc = WEIR_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < q->nf; i++) {
        q->by_index[i] = -1;
        for (int e = 0; e < EF_N; e++)
            if (!strcmp(weir_fields_path(q->fields, i), EF_PATH[e]))
                q->by_index[i] = e;
    }
    *qp = q;
    return WEIR_OK;
fail:
    if (rc == WEIR_ERR_NOMEM)
        snprintf(err, err_size, "out of memory");
    nxq_destroy(q);
    return rc;
}

/* ------------------------------------------------------------------------------ records */

static weir_err flush_rows(nxq *q)
{
    if (!q->op) {
        q->n_rows = 0;
        return q->out_err;
    }
    if (q->n_rows) {
        for (size_t i = 0; i < q->n_rows; i++)
            if (q->key_off[i] != SIZE_MAX)
                q->rows[i].key.ptr = q->keybuf + q->key_off[i];
        weir_err rc = weir_gwindow_process(q->op, q->rows, q->n_rows, 0);
        q->n_rows = 0;
        q->key_len = 0;
        if (rc != WEIR_OK)
            return q->out_err != WEIR_OK ? q->out_err : rc;
    }
    return q->q == 5 ? q5_write(q) : q->out_err;
}

weir_err nxq_flush(nxq *q)
{
    return flush_rows(q);
}

/* A record the query does not aggregate still moves the watermark, as a Flink source's
 * record filtered later does; it changes it only when it is the newest so far. */
static weir_err skip_with_time(nxq *q, int64_t ts)
{
    if (!q->op || (q->have_ts && ts <= q->max_ts))
        return WEIR_OK;
    q->max_ts = ts;
    q->have_ts = 1;
    weir_err rc = flush_rows(q);
    if (rc == WEIR_OK)
        rc = weir_gwindow_observe(q->op, 0, ts, 0);
    if (rc == WEIR_OK && q->q == 5)
        rc = q5_write(q);
    return rc != WEIR_OK && q->out_err != WEIR_OK ? q->out_err : rc;
}

static int is_int(const weir_value *v)
{
    return v->type == WEIR_VALUE_INT;
}

/* q0, q1 or q2's line (with its newline) of a bid whose fields fi[] were checked, at p, which
 * has room for 160 bytes and six per byte of extra: its length. */
static size_t map_line(int qn, const int *fi, const weir_value *vals, int64_t ts, char *p)
{
    char *o = p;
    int64_t price = vals[fi[EF_PRICE]].u.i;
    p += put_s(p, "{\"auction\":");
    p += put_i64(p, vals[fi[EF_AUCTION]].u.i);
    if (qn != 2) {
        p += put_s(p, ",\"bidder\":");
        p += put_i64(p, vals[fi[EF_BIDDER]].u.i);
    }
    p += put_s(p, ",\"price\":");
    if (qn == 1)
        p += q1_price(price, p);
    else
        p += put_i64(p, price);
    if (qn != 2) {
        weir_slice extra = vals[fi[EF_EXTRA]].u.s;
        p += put_s(p, ",\"date_time\":");
        p += put_i64(p, ts);
        p += put_s(p, ",\"extra\":");
        p += weir_json_quote(extra, p, 6 * extra.len + 3);
    }
    *p++ = '}';
    *p++ = '\n';
    return (size_t)(p - o);
}

/* The values of one decoded record (vals is the next row's slot). */
static weir_err take(nxq *q, int64_t ts, weir_value *vals, weir_slice raw)
{
    for (size_t i = 0; i < q->n_wheres; i++)
        if (!weir_pred_eval(q->wheres[i], vals)) {
            q->st.filtered++;
            return skip_with_time(q, ts);
        }
    const int *fi = q->fi;
    if (q->q <= 7) {
        int ok = is_int(&vals[fi[EF_AUCTION]]);
        if (q->q != 5)
            ok = ok && is_int(&vals[fi[EF_PRICE]]);
        if (q->q != 5 && q->q != 2)
            ok = ok && is_int(&vals[fi[EF_BIDDER]]) && vals[fi[EF_EXTRA]].type == WEIR_VALUE_STRING;
        if (!ok) {
            q->st.bad_fields++;
            return skip_with_time(q, ts);
        }
    }
    if (q->q < 5) {
        q->st.bids++;
        if (q->q == 2 && vals[fi[EF_AUCTION]].u.i % 123 != 0)
            return WEIR_OK;
        size_t extra = q->q == 2 ? 0 : vals[fi[EF_EXTRA]].u.s.len;
        char *o = out_room(q, 160 + 6 * extra);
        if (!o)
            return WEIR_ERR_NOMEM;
        q->olen += map_line(q->q, fi, vals, ts, o);
        q->st.outputs++;
        return q->out_err;
    }
    weir_row *r = &q->rows[q->n_rows];
    size_t off = SIZE_MAX;
    if (!q->key) {
        r->key = (weir_slice){"", 0};
    } else if (q->n_keys == 1 && vals[0].type == WEIR_VALUE_STRING) {
        r->key = vals[0].u.s; /* the key's field was added first */
    } else {
        if (q->key_cap - q->key_len < 64) {
            size_t cap = q->key_cap ? q->key_cap * 2 : 16384;
            char *kb = realloc(q->keybuf, cap);
            if (!kb)
                return WEIR_ERR_NOMEM;
            q->keybuf = kb;
            q->key_cap = cap;
        }
        size_t room = q->key_cap - q->key_len;
        size_t n = weir_key_encode(q->key, vals, q->keybuf + q->key_len, room);
        if (n == (size_t)-1) {
            q->st.bad_fields++; /* as the generic job: invalid, the time does not count */
            return WEIR_OK;
        }
        if (n > room) {
            size_t cap = q->key_cap;
            while (cap - q->key_len < n)
                cap *= 2;
            char *kb = realloc(q->keybuf, cap);
            if (!kb)
                return WEIR_ERR_NOMEM;
            q->keybuf = kb;
            q->key_cap = cap;
            weir_key_encode(q->key, vals, q->keybuf + q->key_len, n);
        }
        off = q->key_len;
        r->key = (weir_slice){NULL, n};
        q->key_len += n;
    }
    r->key_hash = XXH3_64bits(off == SIZE_MAX ? r->key.ptr : q->keybuf + off, r->key.len);
    r->ts = ts;
    r->partition = 0;
    r->raw = raw;
    r->values = vals;
    r->n_values = q->nf;
    q->key_off[q->n_rows++] = off;
    if (!q->have_ts || ts > q->max_ts) {
        q->max_ts = ts;
        q->have_ts = 1;
    }
    q->st.bids++;
    if (q->n_rows == q->batch)
        return flush_rows(q);
    return WEIR_OK;
}

weir_err nxq_line(nxq *q, const char *rec, size_t len)
{
    q->st.records++;
    weir_value *vals = q->vals + q->n_rows * q->nf;
    int64_t ts;
    weir_rec_status s = weir_fields_decode(q->fields, rec, len, &ts, vals);
    if (s != WEIR_REC_OK) {
        q->st.invalid++;
        q->st.invalid_by[s]++;
        return WEIR_OK;
    }
    return take(q, ts, vals, (weir_slice){rec, len});
}

static weir_value str_value(weir_nexmark_str s)
{
    weir_value v = {.type = WEIR_VALUE_STRING};
    v.u.s = (weir_slice){s.ptr, s.len};
    return v;
}

weir_err nxq_event(nxq *q, const weir_nexmark_event *ev)
{
    static const char *const TYPES[] = {"person", "auction", "bid"};
    q->st.records++;
    weir_value *vals = q->vals + q->n_rows * q->nf;
    const weir_nexmark_bid *b = &ev->bid;
    for (size_t i = 0; i < q->nf; i++) {
        weir_value *v = &vals[i];
        int e = q->by_index[i];
        v->type = WEIR_VALUE_MISSING;
        if (e == EF_TYPE) {
            *v = str_value((weir_nexmark_str){TYPES[ev->type], (uint32_t)strlen(TYPES[ev->type])});
        } else if (e == EF_DATE_TIME) {
            v->type = WEIR_VALUE_INT;
            v->u.i = ev->date_time;
        } else if (ev->type == WEIR_NEXMARK_BID && e >= 0) {
            if (e == EF_CHANNEL)
                *v = str_value(b->channel);
            else if (e == EF_EXTRA)
                *v = str_value(b->extra);
            else {
                v->type = WEIR_VALUE_INT;
                v->u.i = e == EF_AUCTION ? b->auction : e == EF_BIDDER ? b->bidder : b->price;
            }
        }
    }
    return take(q, ev->date_time, vals, (weir_slice){"", 0});
}

weir_err nxq_finish(nxq *q)
{
    weir_err rc = flush_rows(q);
    if (rc == WEIR_OK && q->op) {
        rc = weir_gwindow_finish(q->op);
        if (rc == WEIR_OK && q->q == 5)
            rc = q5_write(q);
        weir_gwindow_counters c;
        weir_gwindow_stats(q->op, &c);
        q->st.late_dropped = c.late_dropped;
    }
    if (q->out_err != WEIR_OK)
        return q->out_err;
    if (rc == WEIR_OK)
        rc = out_flush(q);
    if (rc == WEIR_OK && q->out && fflush(q->out) != 0)
        rc = WEIR_ERR_IO;
    return rc;
}

weir_err nxq_run_fd(nxq *q, int fd, volatile sig_atomic_t *stop)
{
    size_t cap = 1u << 20, len = 0, pos = 0;
    char *buf = malloc(cap);
    if (!buf)
        return WEIR_ERR_NOMEM;
    weir_err rc = WEIR_OK;
    int eof = 0;
    while (rc == WEIR_OK && !eof && !(stop && *stop)) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = WEIR_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n;
        do
            n = read(fd, buf + len, cap - len);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            rc = WEIR_ERR_IO;
            break;
        }
        eof = n == 0;
        len += (size_t)n;
        while (rc == WEIR_OK && pos < len) {
            char *nl = memchr(buf + pos, '\n', len - pos);
            if (!nl && !eof)
                break;
            size_t end = nl ? (size_t)(nl - buf) : len, ll = end - pos;
            if (ll && buf[pos + ll - 1] == '\r')
                ll--;
            rc = nxq_line(q, buf + pos, ll);
            pos = nl ? end + 1 : len;
        }
        if (rc == WEIR_OK)
            rc = flush_rows(q);
        weir_fields_reset(q->fields);
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        pos = 0;
    }
    free(buf);
    if (rc == WEIR_OK)
        rc = nxq_finish(q);
    return rc;
}

const nxq_stats *nxq_get_stats(const nxq *q)
{
    return &q->st;
}

/* ------------------------------------------------------------------------------ q5, q7 on Kafka */

/* On Kafka, q5 and q7 are the generic job (these lines) with a second step over each window's
 * firings (weir_window_step): the same window, aggregate and per-window maximum as nxq's
 * own loop, in one unit over all input partitions. */
static const char Q5_STEP_CONF[] = NX_COMMON "key.field = auction\n"
                                             "window.spec = hop:10s/2s\n"
                                             "aggregates = count() as num\n"
                                             "input.keyed = false\n";
static const char Q7_STEP_CONF[] = NX_COMMON "global = true\n"
                                             "window.spec = tumble:10s\n"
                                             "input.keyed = false\n";
/* q0, q1 and q2 are maps (the step's record callback): the generic job needs a window and an
 * aggregate all the same, and this one's firings are ignored (one count a 10 s window). */
static const char MAP_STEP_CONF[] = NX_COMMON "global = true\n"
                                              "window.spec = tumble:10s\n"
                                              "aggregates = count()\n"
                                              "input.keyed = false\n";

/* A unit's step state: q5's windows being gathered, or q7's aggregate parameters. */
typedef struct nx_step {
    q5_win *wins;
    size_t n_wins, cap_wins;
    q7_params q7p;
    char *line; /* q7: the lines gathered, each ending in a newline */
    size_t len, line_cap;
    int64_t *ts; /* q7: each line's message timestamp; q0-q2: and its auction after it */
    size_t n_ts, cap_ts;
    int qn;       /* q0-q2: 0, 1 or 2 */
    int fi[EF_N]; /* q0-q2: the index of each event field read */
} nx_step;

static void step_free(void *state)
{
    nx_step *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->cap_wins; i++)
        free(s->wins[i].auctions);
    free(s->wins);
    free(s->line);
    free(s->ts);
    free(s);
}

static weir_err q5_unit_new(void *arg, weir_fields *fields, weir_gagg_def *aggs, size_t *n_aggs,
                            void **state, char *err, size_t err_size)
{
    (void)arg;
    (void)fields;
    (void)aggs;
    (void)n_aggs;
    (void)err;
    (void)err_size;
    return (*state = calloc(1, sizeof(nx_step))) ? WEIR_OK : WEIR_ERR_NOMEM;
}

/* q5's count is values[0]; a key that is not an integer (an auction given as a string) has
 * no place among the results, as nxq's own loop counts such a bid as bad_fields. */
static weir_err q5_step_firing(void *state, const weir_gwindow_firing *f)
{
    nx_step *s = state;
    const char *k = f->key.ptr;
    size_t n = f->key.len, i = n && k[0] == '-';
    if (n == 0 || n > 20 || i == n)
        return WEIR_OK;
    for (; i < n; i++)
        if (k[i] < '0' || k[i] > '9')
            return WEIR_OK;
    return q5_collect(&s->wins, &s->n_wins, &s->cap_wins, f) ? WEIR_ERR_NOMEM : WEIR_OK;
}

static weir_err q5_step_end(void *state, weir_window_step_out *out)
{
    nx_step *s = state;
    char line[160];
    weir_err rc = WEIR_OK;
    for (size_t i = 0; i < s->n_wins && rc == WEIR_OK; i++) {
        q5_win *w = &s->wins[i];
        for (size_t k = 0; k < w->n && rc == WEIR_OK; k++) {
            size_t n = q5_line(line, w, k) - 1; /* a message has no newline */
            rc = weir_window_step_write(out, w->auctions[k], strlen(w->auctions[k]), line, n,
                                        w->end - 1);
        }
    }
    s->n_wins = 0;
    return rc;
}

static weir_err q7_unit_new(void *arg, weir_fields *fields, weir_gagg_def *aggs, size_t *n_aggs,
                            void **state, char *err, size_t err_size)
{
    (void)arg;
    nx_step *s = calloc(1, sizeof *s);
    if (!s)
        return WEIR_ERR_NOMEM;
    int fi[4];
    static const char *const PATHS[4] = {"auction", "bidder", "extra", "price"};
    for (int i = 0; i < 4; i++)
        if ((fi[i] = weir_fields_add(fields, PATHS[i], err, err_size)) < 0) {
            free(s);
            return fi[i] == -2 ? WEIR_ERR_NOMEM : WEIR_ERR_INVALID_ARG;
        }
    s->q7p = (q7_params){fi[0], fi[1], fi[2]};
    aggs[0] = (weir_gagg_def){&Q7_MAX_BIDS, &s->q7p, fi[3], NULL, NULL, "bids"};
    *n_aggs = 1;
    *state = s;
    return WEIR_OK;
}

/* The window's bids at its highest price, each a line with the window, gathered until the
 * operator call returns (q7's firings need no more than that: a tumbling window fires once). */
static weir_err q7_step_firing(void *state, const weir_gwindow_firing *f)
{
    nx_step *s = state;
    weir_slice v = f->values[0].u.s;
    const char *p = v.ptr, *e = v.ptr + v.len;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        size_t n = (size_t)((nl ? nl : e) - p);
        if (s->len + n + 128 > s->line_cap) {
            size_t cap = s->line_cap ? s->line_cap : 4096;
            while (cap < s->len + n + 128)
                cap *= 2;
            char *b = realloc(s->line, cap);
            if (!b)
                return WEIR_ERR_NOMEM;
            s->line = b;
            s->line_cap = cap;
        }
        if (s->n_ts == s->cap_ts) {
            size_t cap = s->cap_ts ? s->cap_ts * 2 : 16;
            int64_t *t = realloc(s->ts, cap * sizeof *t);
            if (!t)
                return WEIR_ERR_NOMEM;
            s->ts = t;
            s->cap_ts = cap;
        }
        char *w = s->line + s->len;
        memcpy(w, p, n);
        w += n;
        put_window(&w, f->window_start, f->window_end);
        s->len = (size_t)(w - s->line);
        s->ts[s->n_ts++] = f->window_end - 1;
        p = nl ? nl + 1 : e;
    }
    return WEIR_OK;
}

static weir_err q7_step_end(void *state, weir_window_step_out *out)
{
    nx_step *s = state;
    weir_err rc = WEIR_OK;
    const char *p = s->line;
    for (size_t i = 0; i < s->n_ts && rc == WEIR_OK; i++) {
        const char *nl = memchr(p, '\n', s->len - (size_t)(p - s->line));
        rc = weir_window_step_write(out, NULL, 0, p, (size_t)(nl - p), s->ts[i]);
        p = nl + 1;
    }
    s->len = 0;
    s->n_ts = 0;
    return rc;
}

/* q0-q2: the fields the map reads. */
static weir_err map_unit_new(int qn, weir_fields *fields, void **state, char *err, size_t err_size)
{
    nx_step *s = calloc(1, sizeof *s);
    if (!s)
        return WEIR_ERR_NOMEM;
    s->qn = qn;
    for (int e = 0; e < EF_N; e++)
        s->fi[e] = -1;
    static const int READS[] = {EF_AUCTION, EF_PRICE, EF_BIDDER, EF_EXTRA};
    for (int k = 0; k < (qn == 2 ? 2 : 4); k++) {
        int e = READS[k];
        if ((s->fi[e] = weir_fields_add(fields, EF_PATH[e], err, err_size)) < 0) {
            weir_err rc = s->fi[e] == -2 ? WEIR_ERR_NOMEM : WEIR_ERR_INVALID_ARG;
            free(s);
            return rc;
        }
    }
    *state = s;
    return WEIR_OK;
}

#define MAP_UNIT_NEW(n)                                                                            \
    static weir_err q##n##_unit_new(void *arg, weir_fields *fields, weir_gagg_def *aggs,           \
                                    size_t *n_aggs, void **state, char *err, size_t err_size)      \
    {                                                                                              \
        (void)arg;                                                                                 \
        (void)aggs;                                                                                \
        (void)n_aggs;                                                                              \
        return map_unit_new(n, fields, state, err, err_size);                                      \
    }
MAP_UNIT_NEW(0)
MAP_UNIT_NEW(1)
MAP_UNIT_NEW(2)

/* A bid's line, kept with its time and auction until the batch's end; a bid without the
 * fields the query reads is skipped, as nxq's own loop counts it as bad_fields. */
static weir_err map_record(void *state, const weir_value *vals, size_t n_values, int64_t ts)
{
    nx_step *s = state;
    const int *fi = s->fi;
    (void)n_values;
    if (!is_int(&vals[fi[EF_AUCTION]]) || !is_int(&vals[fi[EF_PRICE]]))
        return WEIR_OK;
    if (s->qn != 2 &&
        (!is_int(&vals[fi[EF_BIDDER]]) || vals[fi[EF_EXTRA]].type != WEIR_VALUE_STRING))
        return WEIR_OK;
    int64_t auction = vals[fi[EF_AUCTION]].u.i;
    if (s->qn == 2 && auction % 123 != 0)
        return WEIR_OK;
    size_t need = 160 + (s->qn == 2 ? 0 : 6 * vals[fi[EF_EXTRA]].u.s.len);
    if (s->len + need > s->line_cap) {
        size_t cap = s->line_cap ? s->line_cap : 65536;
        while (cap < s->len + need)
            cap *= 2;
        char *b = realloc(s->line, cap);
        if (!b)
            return WEIR_ERR_NOMEM;
        s->line = b;
        s->line_cap = cap;
    }
    if (s->n_ts + 2 > s->cap_ts) {
        size_t cap = s->cap_ts ? s->cap_ts * 2 : 1024;
        int64_t *t = realloc(s->ts, cap * sizeof *t);
        if (!t)
            return WEIR_ERR_NOMEM;
        s->ts = t;
        s->cap_ts = cap;
    }
    s->len += map_line(s->qn, fi, vals, ts, s->line + s->len);
    s->ts[s->n_ts++] = ts;
    s->ts[s->n_ts++] = auction;
    return WEIR_OK;
}

static weir_err map_firing(void *state, const weir_gwindow_firing *f)
{
    (void)state;
    (void)f;
    return WEIR_OK;
}

/* Each line a message keyed by its auction (as the generator keys bids) at its bid's time. */
static weir_err map_end(void *state, weir_window_step_out *out)
{
    nx_step *s = state;
    weir_err rc = WEIR_OK;
    const char *p = s->line;
    for (size_t i = 0; i + 1 < s->n_ts && rc == WEIR_OK; i += 2) {
        const char *nl = memchr(p, '\n', s->len - (size_t)(p - s->line));
        char key[24];
        size_t kn = put_i64(key, s->ts[i + 1]);
        rc = weir_window_step_write(out, key, kn, p, (size_t)(nl - p), s->ts[i]);
        p = nl + 1;
    }
    s->len = 0;
    s->n_ts = 0;
    return rc;
}

#define MAP_STEP(n)                                                                                \
    static const weir_window_step Q##n##_STEP = {                                                  \
        .name = "nexmark-q" #n,                                                                    \
        .version = 1,                                                                              \
        .unit_new = q##n##_unit_new,                                                               \
        .unit_free = step_free,                                                                    \
        .firing = map_firing,                                                                      \
        .end = map_end,                                                                            \
        .record = map_record,                                                                      \
    };
MAP_STEP(0)
MAP_STEP(1)
MAP_STEP(2)

static const weir_window_step Q5_STEP = {
    .name = "nexmark-q5",
    .version = 1,
    .unit_new = q5_unit_new,
    .unit_free = step_free,
    .firing = q5_step_firing,
    .end = q5_step_end,
};

static const weir_window_step Q7_STEP = {
    .name = "nexmark-q7",
    .version = 1,
    .unit_new = q7_unit_new,
    .unit_free = step_free,
    .firing = q7_step_firing,
    .end = q7_step_end,
};

const char *nxq_step_config(const char *name)
{
    if (!strcmp(name, "q0") || !strcmp(name, "q1") || !strcmp(name, "q2"))
        return MAP_STEP_CONF;
    return !strcmp(name, "q5") ? Q5_STEP_CONF : !strcmp(name, "q7") ? Q7_STEP_CONF : NULL;
}

const weir_window_step *nxq_step(const char *name)
{
    static const struct {
        const char *name;
        const weir_window_step *step;
    } STEPS[] = {
        {"q0", &Q0_STEP}, {"q1", &Q1_STEP}, {"q2", &Q2_STEP}, {"q5", &Q5_STEP}, {"q7", &Q7_STEP}};
    for (size_t i = 0; i < sizeof STEPS / sizeof *STEPS; i++)
        if (!strcmp(name, STEPS[i].name))
            return STEPS[i].step;
    return NULL;
}
