/* The DynamoDB sink: firings become items, a batcher keeps one entry per (key, window) and
 * builds BatchWriteItem requests, and a background thread sends them with retries.
 *
 * Ordering: an entry is in at most one request at a time. A newer firing of a window whose
 * item is in flight waits beside it (next_item) and is sent once the older one is written,
 * or replaces it when the older one must be retried, so the latest firing is the one that
 * remains in the table however requests complete. */
#include "connectors/dynamodb_int.h"
#include "runtime/errbuf.h"
#include "runtime/sink_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "weir/output.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "weir/event.h"

#define BATCH_MAX_ITEMS 25
/* BatchWriteItem's 16 MB bound, less room for the envelope. */
#define BATCH_MAX_BYTES ((16u << 20) - 4096)
#define ITEM_MAX_BYTES  (400u * 1024)
#define SORT_KEY        "window_start"
#define BACKOFF_BASE_MS 25
#define BACKOFF_CAP_MS  2000
#define START_WAIT_MS   30000

/* ---- item JSON ---- */

static void out_json_str(weir__bounded *o, const char *s, size_t n)
{
    /* weir_json_quote() ends what it writes with a NUL: only write when that fits too. */
    weir_slice v = {s, n};
    size_t need = weir_json_quote(v, NULL, 0);
    if (o->len < o->cap && need < o->cap - o->len)
        weir_json_quote(v, o->buf + o->len, o->cap - o->len);
    o->len += need;
}

static void out_attr_s(weir__bounded *o, const char *name, const char *v, size_t n)
{
    out_json_str(o, name, strlen(name));
    weir__bounded_str(o, ":{\"S\":");
    out_json_str(o, v, n);
    weir__bounded_str(o, "}");
}

size_t weir__ddb_item_json(const weir_firing *f, const char *key_attr, const weir_agg_spec *aggs,
                           size_t n_aggs, char *buf, size_t cap)
{
    weir__bounded o = {buf, cap, 0};
    char start[32], end[32];
    size_t ns = weir_format_iso8601(f->window_start, start);
    size_t ne = weir_format_iso8601(f->window_end, end);
    weir__bounded_str(&o, "{\"PutRequest\":{\"Item\":{");
    if (key_attr)
        out_attr_s(&o, key_attr, f->key.ptr ? f->key.ptr : "", f->key.len);
    else
        out_attr_s(&o, "window", "all", 3);
    weir__bounded_str(&o, ",");
    out_attr_s(&o, SORT_KEY, start, ns);
    weir__bounded_str(&o, ",");
    out_attr_s(&o, "window_end", end, ne);
    for (size_t i = 0; i < n_aggs && i < f->n_values; i++) {
        char num[32];
        int k = snprintf(num, sizeof num, ":{\"N\":\"%" PRIu64 "\"}", f->values[i]);
        weir__bounded_str(&o, ",");
        out_json_str(&o, aggs[i].field, strlen(aggs[i].field));
        weir__bounded_put(&o, num, (size_t)k);
    }
    weir__bounded_str(&o, "}}}");
    weir__bounded_finish(&o);
    return o.len;
}

/* DynamoDB's own measure of an item: attribute names plus values, numbers at about one byte
 * per two digits. */
static size_t item_size(const weir_firing *f, const char *key_attr, const weir_agg_spec *aggs,
                        size_t n_aggs)
{
    size_t n = key_attr ? strlen(key_attr) + f->key.len : 9;
    n += strlen(SORT_KEY) + 24 + strlen("window_end") + 24;
    for (size_t i = 0; i < n_aggs && i < f->n_values; i++)
        n += strlen(aggs[i].field) + 11;
    return n;
}

/* ---- the batcher ---- */

enum { E_READY, E_INFLIGHT, E_DELAYED };

typedef struct entry {
    struct entry *hnext; /* hash chain */
    struct entry *qnext; /* ready queue or delayed list */
    uint64_t hash;
    char *key;      /* partition key bytes, NUL, sort key, NUL */
    size_t key_len; /* bytes of the partition key */
    const char *sk; /* into key */
    char *item, *next_item;
    size_t item_len, next_len;
    uint64_t firings, next_firings; /* firings each version stands for */
    unsigned attempts;
    int64_t not_before;
    int state;
    int solo; /* send alone: a batch it was in was rejected as invalid */
} entry;

typedef struct batch {
    weir__ddb_batch pub; /* first: the public part is cast back to the batch */
    struct batch *next, *prev;
    size_t n;
    entry *e[BATCH_MAX_ITEMS];
    unsigned char unprocessed[BATCH_MAX_ITEMS];
} batch;

struct weir__ddb_batcher {
    char *table_json; /* the table name as a JSON string literal */
    char key_attr[128];
    unsigned max_retries;
    uint64_t rng;
    entry **buckets;
    size_t n_buckets, count;
    entry *ready_head, *ready_tail;
    entry *delayed;
    int64_t min_due;
    batch *live; /* batches handed out and not completed */
    uint64_t written, retries;
    weir_err err;
    int halted; /* a failure of the whole service (not of one item): send nothing more */
    char error[256];
};

weir__ddb_batcher *weir__ddb_batcher_new(const char *table, unsigned max_retries, uint64_t seed)
{
    weir__ddb_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    size_t n = strlen(table);
    char *t = malloc(n * 6 + 3);
    b->n_buckets = 1024;
    b->buckets = calloc(b->n_buckets, sizeof *b->buckets);
    if (!t || !b->buckets) {
        free(t);
        free(b->buckets);
        free(b);
        return NULL;
    }
    weir__bounded o = {t, n * 6 + 3, 0};
    out_json_str(&o, table, n);
    t[o.len] = '\0';
    b->table_json = t;
    b->max_retries = max_retries;
    b->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
    b->min_due = INT64_MAX;
    snprintf(b->key_attr, sizeof b->key_attr, "key");
    return b;
}

static void entry_free(entry *e)
{
    free(e->key);
    free(e->item);
    free(e->next_item);
    free(e);
}

void weir__ddb_batcher_destroy(weir__ddb_batcher *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_buckets; i++)
        for (entry *e = b->buckets[i], *n; e; e = n) {
            n = e->hnext;
            entry_free(e);
        }
    for (batch *x = b->live, *n; x; x = n) {
        n = x->next;
        free(x->pub.body);
        free(x);
    }
    free(b->buckets);
    free(b->table_json);
    free(b);
}

void weir__ddb_batcher_set_names(weir__ddb_batcher *b, const char *key_attr)
{
    snprintf(b->key_attr, sizeof b->key_attr, "%s", key_attr ? key_attr : "window");
}

static uint64_t key_hash(const char *key, size_t key_len, const char *sk)
{
    return XXH3_64bits_withSeed(key, key_len, XXH3_64bits(sk, strlen(sk)));
}

static entry *lookup(const weir__ddb_batcher *b, uint64_t h, const char *key, size_t key_len,
                     const char *sk)
{
    for (entry *e = b->buckets[h & (b->n_buckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0 &&
            strcmp(e->sk, sk) == 0)
            return e;
    return NULL;
}

static void grow(weir__ddb_batcher *b)
{
    size_t n = b->n_buckets * 2;
    entry **nb = calloc(n, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < b->n_buckets; i++)
        for (entry *e = b->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    free(b->buckets);
    b->buckets = nb;
    b->n_buckets = n;
}

static void unlink_entry(weir__ddb_batcher *b, entry *e)
{
    entry **pp = &b->buckets[e->hash & (b->n_buckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    b->count--;
    entry_free(e);
}

static void ready_push_back(weir__ddb_batcher *b, entry *e)
{
    e->state = E_READY;
    e->qnext = NULL;
    if (b->ready_tail)
        b->ready_tail->qnext = e;
    else
        b->ready_head = e;
    b->ready_tail = e;
}

static void ready_push_front(weir__ddb_batcher *b, entry *e)
{
    e->state = E_READY;
    e->qnext = b->ready_head;
    b->ready_head = e;
    if (!b->ready_tail)
        b->ready_tail = e;
}

int weir__ddb_batcher_put(weir__ddb_batcher *b, const char *key, size_t key_len, const char *sk,
                          const char *item, size_t item_len)
{
    uint64_t h = key_hash(key, key_len, sk);
    entry *e = lookup(b, h, key, key_len, sk);
    char *copy = malloc(item_len + 1);
    if (!copy)
        return -1;
    memcpy(copy, item, item_len);
    copy[item_len] = '\0';
    if (e) {
        if (e->state == E_INFLIGHT) {
            free(e->next_item);
            e->next_item = copy;
            e->next_len = item_len;
            e->next_firings++;
        } else {
            free(e->item);
            e->item = copy;
            e->item_len = item_len;
            e->firings++;
        }
        return 1;
    }
    e = calloc(1, sizeof *e);
    size_t sl = strlen(sk);
    char *k = malloc(key_len + sl + 2);
    if (!e || !k) {
        free(e);
        free(k);
        free(copy);
        return -1;
    }
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    memcpy(k + key_len + 1, sk, sl + 1);
    e->key = k;
    e->key_len = key_len;
    e->sk = k + key_len + 1;
    e->hash = h;
    e->item = copy;
    e->item_len = item_len;
    e->firings = 1;
    size_t bi = h & (b->n_buckets - 1);
    e->hnext = b->buckets[bi];
    b->buckets[bi] = e;
    b->count++;
    ready_push_back(b, e);
    if (b->count > b->n_buckets)
        grow(b);
    return 0;
}

size_t weir__ddb_batcher_pending(const weir__ddb_batcher *b)
{
    return b->count;
}

int weir__ddb_batcher_has(const weir__ddb_batcher *b, const char *key, size_t key_len,
                          const char *sk)
{
    return lookup(b, key_hash(key, key_len, sk), key, key_len, sk) != NULL;
}

int64_t weir__ddb_batcher_next_due(const weir__ddb_batcher *b)
{
    return b->min_due;
}

/* Moves delayed entries whose time has come to the front of the ready queue. */
static void promote_due(weir__ddb_batcher *b, int64_t now)
{
    if (now < b->min_due)
        return;
    entry **pp = &b->delayed, *due = NULL, **due_tail = &due;
    int64_t min_due = INT64_MAX;
    while (*pp) {
        entry *e = *pp;
        if (e->not_before <= now) {
            *pp = e->qnext;
            e->qnext = NULL;
            *due_tail = e;
            due_tail = &e->qnext;
        } else {
            if (e->not_before < min_due)
                min_due = e->not_before;
            pp = &e->qnext;
        }
    }
    b->min_due = min_due;
    if (due) {
        entry *last = due;
        for (entry *e = due; e; e = e->qnext) {
            e->state = E_READY;
            last = e;
        }
        last->qnext = b->ready_head;
        b->ready_head = due;
        if (!b->ready_tail)
            b->ready_tail = last;
    }
}

weir__ddb_batch *weir__ddb_batcher_next(weir__ddb_batcher *b, int64_t now_ms)
{
    if (b->halted)
        return NULL;
    promote_due(b, now_ms);
    if (!b->ready_head)
        return NULL;
    batch *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    static const char head[] = "{\"RequestItems\":{";
    size_t tlen = strlen(b->table_json);
    size_t total = sizeof head - 1 + tlen + 2 + 3;
    /* Take items while they fit: a solo entry only alone. */
    entry *e = b->ready_head;
    size_t n = 0;
    while (e && n < BATCH_MAX_ITEMS) {
        if (e->solo && n > 0)
            break;
        if (n > 0 && total + e->item_len + 1 > BATCH_MAX_BYTES)
            break;
        total += e->item_len + (n ? 1 : 0);
        x->e[n++] = e;
        e = e->qnext;
        if (x->e[n - 1]->solo)
            break;
    }
    b->ready_head = e;
    if (!e)
        b->ready_tail = NULL;
    char *body = malloc(total + 1);
    if (!body) {
        /* Put them back in order and try again later. */
        for (size_t i = n; i-- > 0;)
            ready_push_front(b, x->e[i]);
        free(x);
        return NULL;
    }
    size_t len = 0;
    memcpy(body + len, head, sizeof head - 1);
    len += sizeof head - 1;
    memcpy(body + len, b->table_json, tlen);
    len += tlen;
    memcpy(body + len, ":[", 2);
    len += 2;
    for (size_t i = 0; i < n; i++) {
        if (i)
            body[len++] = ',';
        memcpy(body + len, x->e[i]->item, x->e[i]->item_len);
        len += x->e[i]->item_len;
        x->e[i]->state = E_INFLIGHT;
        x->e[i]->qnext = NULL;
    }
    memcpy(body + len, "]}}", 3);
    len += 3;
    body[len] = '\0';
    x->n = n;
    x->pub.body = body;
    x->pub.body_len = len;
    x->pub.n = n;
    x->next = b->live;
    if (b->live)
        b->live->prev = x;
    b->live = x;
    return &x->pub;
}

void weir__ddb_batch_unprocessed(weir__ddb_batch *pub, const char *key, size_t key_len,
                                 const char *sk, size_t sk_len)
{
    batch *x = (batch *)pub;
    for (size_t i = 0; i < x->n; i++) {
        entry *e = x->e[i];
        if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0 && strlen(e->sk) == sk_len &&
            memcmp(e->sk, sk, sk_len) == 0)
            x->unprocessed[i] = 1;
    }
}

static void fail(weir__ddb_batcher *b, weir_err err, const char *fmt, ...)
{
    if (b->err != WEIR_OK)
        return;
    b->err = err == WEIR_OK ? WEIR_ERR_FATAL : err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof b->error, fmt, ap);
    va_end(ap);
}

/* The next version replaces the current one (written, or abandoned for a retry). */
static void take_next(entry *e, int carry_firings)
{
    free(e->item);
    e->item = e->next_item;
    e->item_len = e->next_len;
    e->firings = e->next_firings + (carry_firings ? e->firings : 0);
    e->next_item = NULL;
    e->next_len = 0;
    e->next_firings = 0;
}

void weir__ddb_batcher_complete(weir__ddb_batcher *b, weir__ddb_batch *pub,
                                weir__ddb_outcome outcome, weir_err err, const char *message,
                                int64_t now_ms)
{
    batch *x = (batch *)pub;
    if (!message)
        message = "";
    for (size_t i = 0; i < x->n; i++) {
        entry *e = x->e[i];
        int ok = outcome == WEIR__DDB_OK && !x->unprocessed[i];
        int retry = outcome == WEIR__DDB_RETRY || (outcome == WEIR__DDB_OK && !ok);
        if (ok) {
            b->written += e->firings;
            if (e->next_item) {
                take_next(e, 0);
                e->attempts = 0;
                e->solo = 0;
                ready_push_back(b, e);
            } else {
                unlink_entry(b, e);
            }
        } else if (retry) {
            b->retries++;
            e->attempts++;
            if (e->attempts > b->max_retries) {
                fail(b, err == WEIR_OK ? WEIR_ERR_RETRIABLE : err,
                     "DynamoDB: gave up on item %s=\"%.64s\" window_start=%s after %u attempts: "
                     "%s",
                     b->key_attr, e->key, e->sk, e->attempts,
                     outcome == WEIR__DDB_OK ? "left unprocessed" : message);
                unlink_entry(b, e);
                continue;
            }
            if (e->next_item)
                take_next(e, 1);
            e->state = E_DELAYED;
            e->not_before =
                now_ms + (int64_t)weir__ddb_backoff_ms(e->attempts - 1, BACKOFF_BASE_MS,
                                                       BACKOFF_CAP_MS, weir__ddb_rng_next(&b->rng));
            e->qnext = b->delayed;
            b->delayed = e;
            if (e->not_before < b->min_due)
                b->min_due = e->not_before;
        } else if (outcome == WEIR__DDB_ISOLATE && x->n > 1) {
            /* One item of the batch is invalid: resend each alone to find it. */
            b->retries++;
            e->solo = 1;
            if (e->next_item)
                take_next(e, 1);
            ready_push_back(b, e);
        } else if (outcome == WEIR__DDB_ISOLATE) {
            fail(b, err == WEIR_OK ? WEIR_ERR_INVALID_ARG : err,
                 "DynamoDB rejected item %s=\"%.64s\" window_start=%s: %s", b->key_attr, e->key,
                 e->sk, message);
            unlink_entry(b, e);
        } else {
            fail(b, err, "DynamoDB BatchWriteItem failed: %s", message);
            b->halted = 1;
            /* The sink has failed: the entry stays pending so flush reports the error. */
            e->state = E_DELAYED;
            e->not_before = INT64_MAX;
            e->qnext = b->delayed;
            b->delayed = e;
        }
    }
    if (x->prev)
        x->prev->next = x->next;
    else
        b->live = x->next;
    if (x->next)
        x->next->prev = x->prev;
    free(x->pub.body);
    free(x);
}

int weir__ddb_batcher_halted(const weir__ddb_batcher *b)
{
    return b->halted;
}

uint64_t weir__ddb_batcher_written(const weir__ddb_batcher *b)
{
    return b->written;
}

uint64_t weir__ddb_batcher_retries(const weir__ddb_batcher *b)
{
    return b->retries;
}

weir_err weir__ddb_batcher_error(const weir__ddb_batcher *b, const char **msg)
{
    if (msg)
        *msg = b->error;
    return b->err;
}

/* ---- the sink ---- */

typedef struct ddb_sink {
    weir_sink base;
    weir_ddb *client;
    weir__ddb_batcher *b;
    const char *key_attr; /* key_field, or "window" for a global job */
    char *table;
    size_t cap; /* most entries buffered before firing() blocks */
    size_t max_inflight, inflight;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int thread_started, stop, io_waiting;
    weir_err local_err; /* a firing refused before it reached the batcher (too large) */
    char *scratch;
    size_t scratch_cap;
    /* weir_dynamodb_sink_set_metrics(): updated from the I/O thread without a lock. */
    weir_counter *req[4]; /* ok, throttled, retriable_error, fatal_error */
    weir_counter *retries;
    weir_histogram *batch_dur;
} ddb_sink;

static void collect_unprocessed(void *opaque, const char *pk, size_t pk_len, const char *sk,
                                size_t sk_len)
{
    weir__ddb_batch_unprocessed(opaque, pk, pk_len, sk, sk_len);
}

static void on_batch_done(void *opaque, const weir_ddb_response *r)
{
    weir__ddb_batch *bt = opaque;
    ddb_sink *s = bt->opaque;
    weir__ddb_outcome outcome;
    weir_err err = r->err;
    const char *msg = r->message;
    char why[384];
    if (r->err == WEIR_OK) {
        /* The keys of in-flight entries do not change, so matching needs no lock. */
        weir_err prc = weir_ddb_batch_unprocessed(r->body, r->body_len, s->table, s->key_attr,
                                                  SORT_KEY, collect_unprocessed, bt);
        /* An answer that cannot be read is retried whole: puts are idempotent. */
        outcome = prc == WEIR_OK ? WEIR__DDB_OK : WEIR__DDB_RETRY;
        if (prc != WEIR_OK) {
            err = WEIR_ERR_RETRIABLE;
            msg = "malformed BatchWriteItem answer";
        }
    } else if (weir_err_is_retriable(r->err)) {
        outcome = WEIR__DDB_RETRY;
    } else if (r->err == WEIR_ERR_INVALID_ARG) {
        outcome = WEIR__DDB_ISOLATE;
    } else {
        outcome = WEIR__DDB_FATAL;
    }
    if (r->err != WEIR_OK) {
        snprintf(why, sizeof why, "%s%s%s", r->error_type, r->error_type[0] ? ": " : "",
                 r->message);
        msg = why;
    }
    if (s->req[0]) {
        int throttled = strstr(r->error_type, "Throttl") || strstr(r->error_type, "Throughput");
        weir_counter_inc(s->req[r->err == WEIR_OK            ? 0
                                : throttled                  ? 1
                                : outcome == WEIR__DDB_RETRY ? 2
                                                             : 3]);
        weir_histogram_observe(s->batch_dur, (double)(weir__mono_ms() - bt->sent_ms) / 1000.0);
    }
    pthread_mutex_lock(&s->mu);
    weir__ddb_batcher_complete(s->b, bt, outcome, err, msg, weir__mono_ms());
    if (s->retries)
        weir_counter_set(s->retries, weir__ddb_batcher_retries(s->b));
    s->inflight--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *io_main(void *arg)
{
    ddb_sink *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        int64_t now = weir__mono_ms();
        while (s->inflight < s->max_inflight) {
            weir__ddb_batch *bt = weir__ddb_batcher_next(s->b, now);
            if (!bt)
                break;
            char *body = bt->body;
            size_t len = bt->body_len;
            bt->body = NULL;
            bt->opaque = s;
            bt->sent_ms = now;
            s->inflight++;
            pthread_mutex_unlock(&s->mu);
            weir_err rc =
                weir_ddb_submit(s->client, "BatchWriteItem", body, len, on_batch_done, bt);
            pthread_mutex_lock(&s->mu);
            if (rc != WEIR_OK) {
                weir__ddb_batcher_complete(s->b, bt, WEIR__DDB_FATAL, rc,
                                           "cannot send the request (out of memory or signing)",
                                           now);
                s->inflight--;
                pthread_cond_broadcast(&s->cv);
            }
        }
        int64_t due = weir__ddb_batcher_next_due(s->b);
        int timeout = 1000;
        if (due != INT64_MAX) {
            int64_t wait = due - now;
            timeout = wait <= 0 ? 1 : (wait < 1000 ? (int)wait : 1000);
        }
        s->io_waiting = 1;
        pthread_mutex_unlock(&s->mu);
        weir_ddb_poll(s->client, timeout);
        pthread_mutex_lock(&s->mu);
        s->io_waiting = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Copies counters and a final error into the public header. Called with the lock held. */
static weir_err sync_state(ddb_sink *s)
{
    s->base.written = weir__ddb_batcher_written(s->b);
    s->base.retries = weir__ddb_batcher_retries(s->b);
    const char *msg;
    weir_err err = weir__ddb_batcher_error(s->b, &msg);
    if (err != WEIR_OK && !s->base.error[0])
        snprintf(s->base.error, sizeof s->base.error, "%s", msg);
    return err != WEIR_OK ? err : s->local_err;
}

static void wake_io(ddb_sink *s)
{
    weir_ddb_wakeup(s->client);
}

static const weir_sink_ops DDB_OPS;

/* Queues one PutRequest `item` of (key, sk), waiting while the buffer is full. */
static weir_err put_item(ddb_sink *s, const char *key, size_t key_len, const char *sk,
                         const char *item, size_t item_len, size_t item_bytes)
{
    pthread_mutex_lock(&s->mu);
    weir_err err = sync_state(s);
    if (err == WEIR_OK && item_bytes > ITEM_MAX_BYTES) {
        snprintf(s->base.error, sizeof s->base.error,
                 "DynamoDB: item %s=\"%.*s\" window_start=%s exceeds the 400 KB item limit",
                 s->key_attr, (int)(key_len < 64 ? key_len : 64), key, sk);
        err = s->local_err = WEIR_ERR_INVALID_ARG;
    }
    int woke = 0;
    while (err == WEIR_OK && weir__ddb_batcher_pending(s->b) >= s->cap &&
           !weir__ddb_batcher_has(s->b, key, key_len, sk)) {
        /* Behind: wait for requests to complete rather than grow without bound. */
        if (!woke && s->io_waiting) {
            wake_io(s);
            woke = 1;
        }
        pthread_cond_wait(&s->cv, &s->mu);
        err = sync_state(s);
    }
    if (err == WEIR_OK && weir__ddb_batcher_put(s->b, key, key_len, sk, item, item_len) < 0)
        err = WEIR_ERR_NOMEM;
    int wake = err == WEIR_OK && s->io_waiting && s->inflight < s->max_inflight;
    pthread_mutex_unlock(&s->mu);
    if (wake)
        wake_io(s);
    return err;
}

static weir_err sink_firing(weir_sink *base, const weir_firing *f)
{
    ddb_sink *s = (ddb_sink *)base;
    const char *key = s->base.key_field ? (f->key.ptr ? f->key.ptr : "") : "all";
    size_t key_len = s->base.key_field ? f->key.len : 3;
    size_t need = weir__ddb_item_json(f, s->base.key_field, s->base.aggs, s->base.n_aggs, NULL, 0);
    if (need + 1 > s->scratch_cap) {
        char *p = weir__grow(s->scratch, &s->scratch_cap, need + 1);
        if (!p)
            return WEIR_ERR_NOMEM;
        s->scratch = p;
    }
    weir__ddb_item_json(f, s->base.key_field, s->base.aggs, s->base.n_aggs, s->scratch,
                        s->scratch_cap);
    char sk[32];
    weir_format_iso8601(f->window_start, sk);
    return put_item(s, key, key_len, sk, s->scratch, need,
                    item_size(f, s->base.key_field, s->base.aggs, s->base.n_aggs));
}

weir_err weir_dynamodb_sink_put(weir_sink *base, weir_slice pk, const char *window_start,
                                const char *item, size_t item_len)
{
    if (!base || base->ops != &DDB_OPS)
        return WEIR_ERR_INVALID_ARG;
    ddb_sink *s = (ddb_sink *)base;
    return put_item(s, pk.ptr ? pk.ptr : "", pk.len, window_start, item, item_len, item_len);
}

static weir_err sink_record(weir_sink *base, weir_slice record, int32_t partition)
{
    (void)base;
    (void)record;
    (void)partition;
    /* Side outputs (late and invalid records) have no place in the results table. */
    return WEIR_ERR_UNSUPPORTED;
}

static weir_err sink_flush(weir_sink *base, int timeout_ms)
{
    ddb_sink *s = (ddb_sink *)base;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms >= 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&s->mu);
    wake_io(s);
    /* After one item was rejected the others are still written; only a failure of the
     * whole service halts the sender. */
    int timed_out = 0;
    while (weir__ddb_batcher_pending(s->b) > 0 && !weir__ddb_batcher_halted(s->b)) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) != 0) {
            timed_out = weir__ddb_batcher_pending(s->b) > 0;
            break;
        }
    }
    weir_err err = sync_state(s);
    if (err == WEIR_OK && timed_out)
        err = WEIR_ERR_TIMEOUT;
    pthread_mutex_unlock(&s->mu);
    return err;
}

static weir_err sink_poll(weir_sink *base)
{
    ddb_sink *s = (ddb_sink *)base;
    pthread_mutex_lock(&s->mu);
    weir_err err = sync_state(s);
    pthread_mutex_unlock(&s->mu);
    return err;
}

static void sink_destroy(weir_sink *base)
{
    ddb_sink *s = (ddb_sink *)base;
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_mutex_unlock(&s->mu);
        wake_io(s);
        pthread_join(s->thread, NULL);
    }
    /* Transfers still in flight are aborted without callbacks; the batcher frees their
     * batches. */
    weir_ddb_destroy(s->client);
    weir__ddb_batcher_destroy(s->b);
    if (s->thread_started) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
    }
    free(s->scratch);
    free(s->table);
    free(s);
}

static const weir_sink_ops DDB_OPS = {
    "dynamodb", sink_firing, sink_record, sink_flush, sink_poll, sink_destroy,
};

int weir_dynamodb_enabled(const weir_conf *conf)
{
    const char *ep = weir_conf_get(conf, "dynamodb.endpoint");
    const char *region = weir_conf_get(conf, "aws.region");
    return (ep && *ep) || (region && *region) || weir_conf_is_set(conf, "dynamodb.table");
}

/* Prefixes a client message with "DynamoDB " unless it already names DynamoDB. */
static void prefixed(char *errstr, size_t size, const char *msg)
{
    if (strncmp(msg, "DynamoDB", 8) == 0)
        weir__errf(errstr, size, "%s", msg);
    else
        weir__errf(errstr, size, "DynamoDB %s", msg);
}

static weir_err check_table(ddb_sink *s, const weir_conf *conf, const char *table, char *errstr,
                            size_t errstr_size)
{
    char err[512];
    weir_ddb_table_info info;
    weir_err rc = weir_ddb_describe_table(s->client, table, &info, err, sizeof err);
    if (rc == WEIR_ERR_NOT_FOUND && weir_conf_get_bool(conf, "dynamodb.create.table")) {
        rc = weir_ddb_create_table(s->client, table, s->key_attr, SORT_KEY, START_WAIT_MS, err,
                                   sizeof err);
        if (rc == WEIR_OK)
            rc = weir_ddb_describe_table(s->client, table, &info, err, sizeof err);
    }
    if (rc == WEIR_ERR_NOT_FOUND && !weir_conf_get_bool(conf, "dynamodb.create.table")) {
        weir__errf(errstr, errstr_size, "%s (create it, or set --dynamodb-create-table)", err);
        return rc;
    }
    if (rc != WEIR_OK) {
        prefixed(errstr, errstr_size, err);
        return rc;
    }
    int64_t deadline = weir__mono_ms() + START_WAIT_MS;
    while (strcmp(info.status, "ACTIVE") != 0 && strcmp(info.status, "UPDATING") != 0) {
        if (weir__mono_ms() > deadline) {
            weir__errf(errstr, errstr_size, "DynamoDB table \"%.200s\" is %s, not ACTIVE", table,
                       info.status);
            return WEIR_ERR_TIMEOUT;
        }
        struct timespec ts = {0, 200000000L};
        nanosleep(&ts, NULL);
        rc = weir_ddb_describe_table(s->client, table, &info, err, sizeof err);
        if (rc != WEIR_OK) {
            prefixed(errstr, errstr_size, err);
            return rc;
        }
    }
    if (strcmp(info.partition_key, s->key_attr) != 0 || strcmp(info.sort_key, SORT_KEY) != 0) {
        weir__errf(
            errstr, errstr_size,
            "DynamoDB table \"%.200s\" has the key (%.64s, %.64s); weir writes (%.64s S, %s S)",
            table, info.partition_key, info.sort_key[0] ? info.sort_key : "no sort key",
            s->key_attr, SORT_KEY);
        return WEIR_ERR_INVALID_ARG;
    }
    return WEIR_OK;
}

weir_err weir_dynamodb_sink_create(const weir_conf *conf, const char *key_field,
                                   const weir_agg_spec *aggs, size_t n_aggs, weir_sink **out,
                                   char *errstr, size_t errstr_size)
{
    *out = NULL;
    const char *table = weir_conf_get(conf, "dynamodb.table");
    if (!table || !*table) {
        weir__errf(errstr, errstr_size, "DynamoDB: dynamodb.table is empty");
        return WEIR_ERR_INVALID_ARG;
    }
    ddb_sink *s = calloc(1, sizeof *s);
    if (!s) {
        weir__errf(errstr, errstr_size, "DynamoDB: out of memory");
        return WEIR_ERR_NOMEM;
    }
    s->base.ops = &DDB_OPS;
    s->base.key_field = key_field;
    s->base.aggs = aggs;
    s->base.n_aggs = n_aggs;
    s->key_attr = key_field ? key_field : "window";
    s->table = strdup(table);
    if (!s->table) {
        free(s);
        weir__errf(errstr, errstr_size, "DynamoDB: out of memory");
        return WEIR_ERR_NOMEM;
    }
    int64_t inflight = weir_conf_get_int(conf, "dynamodb.max.inflight");
    s->max_inflight = inflight > 0 ? (size_t)inflight : 4;
    s->cap = s->max_inflight * BATCH_MAX_ITEMS * 8;
    if (s->cap < 1024)
        s->cap = 1024;
    char err[512];
    weir_err rc = weir_ddb_new(conf, &s->client, err, sizeof err);
    if (rc != WEIR_OK) {
        weir__errf(errstr, errstr_size, "%s", err);
        sink_destroy(&s->base);
        return rc;
    }
    rc = check_table(s, conf, table, errstr, errstr_size);
    if (rc != WEIR_OK) {
        sink_destroy(&s->base);
        return rc;
    }
    int64_t retries = weir_conf_get_int(conf, "dynamodb.max.retries");
    s->b = weir__ddb_batcher_new(table, retries > 0 ? (unsigned)retries : 0,
                                 (uint64_t)weir__mono_ms() * 0x9E3779B97F4A7C15ULL ^ (uintptr_t)s);
    if (!s->b) {
        sink_destroy(&s->base);
        weir__errf(errstr, errstr_size, "DynamoDB: out of memory");
        return WEIR_ERR_NOMEM;
    }
    weir__ddb_batcher_set_names(s->b, s->key_attr);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, io_main, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        sink_destroy(&s->base);
        weir__errf(errstr, errstr_size, "DynamoDB: cannot start the sender thread");
        return WEIR_ERR_NOMEM;
    }
    s->thread_started = 1;
    *out = &s->base;
    return WEIR_OK;
}

weir_err weir_dynamodb_sink_set_metrics(weir_sink *sink, weir_metrics *m)
{
    if (!sink || !m || sink->ops != &DDB_OPS)
        return WEIR_ERR_INVALID_ARG;
    ddb_sink *s = (ddb_sink *)sink;
    static const char *const outcomes[4] = {"ok", "throttled", "retriable_error", "fatal_error"};
    static const char REQ[] =
        "DynamoDB requests by outcome: ok, throttled, retriable_error, fatal_error.";
    weir_counter *req[4];
    weir_counter *retries;
    weir_histogram *dur;
    weir_err rc = WEIR_OK;
    for (int i = 0; i < 4 && rc == WEIR_OK; i++)
        rc = weir_metrics_counter(m, "weir_dynamodb_requests_total", REQ,
                                  (const char *const[]){"outcome", outcomes[i], NULL}, &req[i]);
    if (rc == WEIR_OK)
        rc = weir_metrics_counter(m, "weir_dynamodb_retries_total", "DynamoDB requests retried.",
                                  NULL, &retries);
    if (rc == WEIR_OK)
        rc = weir_metrics_histogram(m, "weir_dynamodb_batch_duration_seconds",
                                    "Time to write one batch, retries included.", NULL, NULL, 0,
                                    &dur);
    if (rc != WEIR_OK)
        return rc;
    pthread_mutex_lock(&s->mu);
    s->retries = retries;
    s->batch_dur = dur;
    memcpy(s->req, req, sizeof req);
    pthread_mutex_unlock(&s->mu);
    return WEIR_OK;
}

weir_sink *weir_dynamodb_sink_new(const weir_conf *conf, const char *key_field,
                                  const weir_agg_spec *aggs, size_t n_aggs, char *errstr,
                                  size_t errstr_size)
{
    weir_sink *s = NULL;
    weir_dynamodb_sink_create(conf, key_field, aggs, n_aggs, &s, errstr, errstr_size);
    return s;
}
