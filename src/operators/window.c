/* The tumbling event-time window operator: lateness, firing, cleanup (docs/SEMANTICS.md). */
#include "weir/window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/agg_int.h"
#include "operators/watermark_int.h"
#include "operators/window_int.h"
#include "runtime/errbuf.h"

/*
 * Windows live in an array ordered by start. Those whose end - 1 is at or below
 * the watermark have fired and form a prefix of the array (a late record can
 * only create a window older than every unfired one), so deciding what to fire
 * or free after a record looks at two windows, not all of them.
 *
 * Records are processed one at a time, exactly as SEMANTICS.md states; a batch
 * only lets the operator prefetch the table slots of records a few places ahead,
 * so that their cache misses overlap instead of queueing.
 */

#define PREFETCH_DISTANCE 32
#define INITIAL_KEYS      16
#define LOG_MIN           1024
#define LOG_MAX           (1u << 18)

static int64_t add_sat(int64_t a, int64_t b)
{
    /* b >= 0 */
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t floor_start(int64_t ts, int64_t size)
{
    int64_t r = ts % size;
    if (r < 0)
        r += size;
    return ts - r;
}

weir_err weir_window_params_from_conf(const weir_conf *conf, weir_window_params *p,
                                      int *hll_precision, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    memset(p, 0, sizeof *p);
    p->size_ms = weir_conf_get_duration_ms(conf, "window.size");
    p->allowed_lateness_ms = weir_conf_get_duration_ms(conf, "window.allowed.lateness");
    p->emit = strcmp(weir_conf_get(conf, "emit.mode"), "final") == 0 ? WEIR_EMIT_FINAL
                                                                     : WEIR_EMIT_UPDATES;
    weir_wm_params_from_conf(conf, &p->wm);
    p->partitions = 1;
    p->global = weir_conf_get_bool(conf, "global");
    *hll_precision = (int)weir_conf_get_int(conf, "hll.precision");
    p->aggs[0] = (weir_agg_spec){&weir_agg_distinct_exact, "unique_user_count", NULL};
    if (strcmp(weir_conf_get(conf, "distinct.mode"), "hll") == 0)
        p->aggs[0] = (weir_agg_spec){&weir_agg_distinct_hll, "unique_user_count", hll_precision};
    p->aggs[1] = (weir_agg_spec){&weir_agg_count, "event_count", NULL};
    p->n_aggs = 2;
    return WEIR_OK;
}

weir_window_op *weir_window_op_new(const weir_window_params *p, weir_emit_fn emit, void *opaque,
                                   char *errstr, size_t errstr_size)
{
    if (p->size_ms <= 0 || p->allowed_lateness_ms < 0 || p->wm.out_of_orderness_ms < 0 ||
        p->partitions < 1 || p->n_aggs > WEIR_MAX_AGGS) {
        weir__errf(errstr, errstr_size,
                   "window operator: invalid parameters (size > 0, lateness >= 0, "
                   "out-of-orderness >= 0, partitions >= 1, at most %d aggregates)",
                   WEIR_MAX_AGGS);
        return NULL;
    }
    weir_window_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->p = *p;
    op->emit = emit;
    op->emit_opaque = opaque;
    size_t off = sizeof(weir__kentry);
    for (size_t i = 0; i < p->n_aggs; i++) {
        const weir_agg_ops *ops = p->aggs[i].ops;
        if (!ops || ops->state_size > 256 || !ops->init || !ops->add || !ops->result ||
            !ops->free || !ops->serialize || !ops->deserialize || !ops->serialized_size) {
            weir__errf(errstr, errstr_size, "window operator: aggregate %zu is incomplete", i);
            free(op);
            return NULL;
        }
        op->offs[i] = off;
        off += (ops->state_size + 7) & ~(size_t)7;
        op->kind[i] = ops == &weir_agg_count            ? WEIR__AGG_COUNT
                      : ops == &weir_agg_distinct_exact ? WEIR__AGG_DISTINCT
                                                        : WEIR__AGG_OTHER;
        if (ops->flags & WEIR_AGG_NEEDS_DENSE_ID)
            op->need_dict = 1;
    }
    op->stride = off;
    op->two_builtin = 1;
    for (size_t i = 0; i < p->n_aggs; i++) {
        size_t *at = op->kind[i] == WEIR__AGG_COUNT      ? &op->count_off
                     : op->kind[i] == WEIR__AGG_DISTINCT ? &op->distinct_off
                                                         : NULL;
        if (!at || *at)
            op->two_builtin = 0;
        else
            *at = op->offs[i];
        if (op->kind[i] == WEIR__AGG_DISTINCT)
            op->distinct_params = p->aggs[i].params;
    }
    op->wm = weir_watermark_new(p->partitions, &p->wm);
    if (!op->wm) {
        free(op);
        return NULL;
    }
    return op;
}

void weir__win_free(const weir_window_op *op, weir__win *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->nkeys; i++) {
        weir__kentry *e = weir__entry(op, w, i);
        for (size_t a = 0; a < op->p.n_aggs; a++)
            op->p.aggs[a].ops->free((uint8_t *)e + op->offs[a], op->p.aggs[a].params);
    }
    free(w->entries);
    free(w->index);
    free(w->log);
    weir__dict_free(&w->dict);
    weir__arena_free(&w->arena);
    free(w);
}

/*
 * The log: while a window is hot, each record's dense id goes to a log of the window, in
 * arrival order, not to its key's set; a full log (or a firing, or a snapshot) is sorted
 * by key, one counting pass, and each key's ids join its set's pending run at once.
 * Appending to one sequential log touches no line of a set: per-key pending runs did, on
 * every record, each at its own place in memory.
 */
weir_err weir__win_flush(const weir_window_op *op, weir__win *w)
{
    uint32_t n = w->log_n, nk = w->nkeys;
    if (!n)
        return WEIR_OK;
    const uint64_t *log = w->log;
    uint32_t *start = calloc((size_t)nk + 1, sizeof *start);
    uint32_t *ids = malloc((size_t)n * sizeof *ids);
    if (!start || !ids) {
        free(start);
        free(ids);
        return WEIR_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        start[(log[i] >> 32) + 1]++;
    for (uint32_t k = 0; k < nk; k++)
        start[k + 1] += start[k];
    for (uint32_t i = 0; i < n; i++)
        ids[start[log[i] >> 32]++] = (uint32_t)log[i];
    /* start[k] is now the end of key k's ids, the start of key k + 1's */
    weir_err rc = WEIR_OK;
    uint32_t done = 0;
    for (uint32_t k = 0, from = 0; k < nk && rc == WEIR_OK; from = start[k++]) {
        if (start[k] == from)
            continue;
        uint8_t *state = (uint8_t *)weir__entry(op, w, k) + op->distinct_off;
        rc = weir__distinct_add_many(state, ids + from, start[k] - from);
        done = rc == WEIR_OK ? start[k] : from;
    }
    if (rc != WEIR_OK) {
        /* what is left goes back to the log, in key order */
        uint32_t key = 0;
        for (uint32_t i = done; i < n; i++) {
            while (start[key] <= i)
                key++;
            w->log[i - done] = (uint64_t)key << 32 | ids[i];
        }
    }
    w->log_n = rc == WEIR_OK ? 0 : n - done;
    free(start);
    free(ids);
    return rc;
}

/* Room in w's log for one more id: the log made, grown, or flushed. It grows by doubling
 * from LOG_MIN to LOG_MAX ids while it stays within half an id per distinct value of the
 * window (4 bytes a value beside the dictionary's ~14): small windows keep a small log. */
static weir_err log_room(weir__win *w, const weir_window_op *op)
{
    uint32_t cap = w->log_cap ? w->log_cap * 2 : LOG_MIN;
    if (!w->log || (cap <= LOG_MAX && cap <= w->dict.count / 2)) {
        uint64_t *log = realloc(w->log, (size_t)cap * sizeof *log);
        if (log) {
            w->log = log;
            w->log_cap = cap;
            return WEIR_OK;
        }
        if (!w->log)
            return WEIR_ERR_NOMEM;
    }
    return weir__win_flush(op, w);
}

/* Flushes a window that fires and drops its log (it will not be hot again but for late
 * records, which take the direct path). A failure is reported by the next call that can
 * return one. */
static void win_settle(weir_window_op *op, weir__win *w)
{
    if (weir__win_flush(op, w) != WEIR_OK) {
        op->nomem = 1;
        return;
    }
    free(w->log);
    w->log = NULL;
    w->log_cap = 0;
}

void weir_window_op_destroy(weir_window_op *op)
{
    if (!op)
        return;
    for (size_t i = 0; i < op->nwin; i++)
        weir__win_free(op, op->wins[i]);
    free(op->wins);
    weir_watermark_destroy(op->wm);
    free(op);
}

void weir_window_op_set_late_output(weir_window_op *op, weir_late_fn fn, void *opaque)
{
    op->late = fn;
    op->late_opaque = opaque;
}

weir__win *weir__win_new(const weir_window_op *op, int64_t start)
{
    weir__win *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->start = start;
    w->cap_keys = INITIAL_KEYS;
    w->entries = malloc((size_t)w->cap_keys * op->stride);
    w->imask = INITIAL_KEYS * 2 - 1;
    w->index = calloc(w->imask + 1, sizeof(uint64_t));
    /* Consecutive windows of a stream hold similar numbers of distinct values: sizing the
     * dictionary from the last one saves its growth steps (a tenth of the operator's work
     * and most of its cache misses on writes, by callgrind). */
    uint32_t hint = op->dict_hint;
    for (size_t i = 0; i < op->nwin; i++)
        if (op->wins[i]->dict.count > hint)
            hint = op->wins[i]->dict.count;
    if (!w->entries || !w->index || (op->need_dict && weir__dict_init(&w->dict, hint) != 0)) {
        free(w->entries);
        free(w->index);
        weir__dict_free(&w->dict);
        free(w);
        return NULL;
    }
    return w;
}

static int index_grow(const weir_window_op *op, weir__win *w)
{
    uint32_t cap = (w->imask + 1) * 2;
    uint64_t *idx = calloc(cap, sizeof(uint64_t));
    if (!idx)
        return -1;
    uint32_t mask = cap - 1;
    for (uint32_t i = 0; i < w->nkeys; i++) {
        uint64_t h = weir__entry(op, w, i)->hash;
        uint32_t j = (uint32_t)h & mask;
        while (idx[j])
            j = (j + 1) & mask;
        idx[j] = (h >> 32) << 32 | (uint64_t)(i + 1);
    }
    free(w->index);
    w->index = idx;
    w->imask = mask;
    return 0;
}

/* a[0..n) == b[0..n) for w <= n <= 2 * w, w 4 or 8: a word at each end, overlapping,
 * none past the end. */
static inline int ends_equal(const char *a, const char *b, size_t n, size_t w)
{
    uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    memcpy(&a0, a, w);
    memcpy(&a1, a + n - w, w);
    memcpy(&b0, b, w);
    memcpy(&b1, b + n - w, w);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* a[0..n) == b[0..n) for n <= 16 (an inline key), without a call to memcmp on every
 * record. */
static inline __attribute__((always_inline)) int short_equal(const char *a, const char *b, size_t n)
{
    if (n >= 8)
        return ends_equal(a, b, n, 8);
    if (n >= 4)
        return ends_equal(a, b, n, 4);
    /* 0 to 3 bytes: the first, middle and last cover them all */
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/* The key's entry in w, or NULL when w does not hold it: the lookup of every record,
 * inline; weir__win_key adds what it does not find. (Forced inline, as is short_equal:
 * with two callers GCC kept it out of line, 15 instructions a record more.) */
static inline __attribute__((always_inline)) weir__kentry *find_key(const weir_window_op *op,
                                                                    const weir__win *w,
                                                                    uint64_t hash, const char *key,
                                                                    size_t klen, uint32_t *at)
{
    uint64_t tag = (hash >> 32) << 32;
    for (uint32_t i = (uint32_t)hash & w->imask;; i = (i + 1) & w->imask) {
        uint64_t s = w->index[i];
        if (!s)
            return NULL;
        if ((s & 0xFFFFFFFF00000000ull) == tag) {
            weir__kentry *e = weir__entry(op, w, (uint32_t)s - 1);
            if (e->hash == hash && e->klen == klen &&
                (klen <= WEIR__INLINE_KEY ? short_equal(e->key.bytes, key, klen)
                                          : memcmp(e->key.ptr, key, klen) == 0)) {
                *at = (uint32_t)s - 1;
                return e;
            }
        }
    }
}

/* Adds a key w does not hold (find_key said so) and returns its new entry; NULL when out
 * of memory. */
static weir__kentry *add_key(weir_window_op *op, weir__win *w, uint64_t hash, const char *key,
                             size_t klen)
{
    /* The index stays at most half full, so probes stay short. */
    if (klen > UINT32_MAX - 1)
        return NULL;
    if ((w->nkeys + 1) * 2 > w->imask + 1 && index_grow(op, w) != 0)
        return NULL;
    uint32_t i = (uint32_t)hash & w->imask;
    while (w->index[i])
        i = (i + 1) & w->imask;
    if (w->nkeys == w->cap_keys) {
        uint8_t *ne = realloc(w->entries, (size_t)w->cap_keys * 2 * op->stride);
        if (!ne)
            return NULL;
        w->entries = ne;
        w->cap_keys *= 2;
    }
    weir__kentry *e = weir__entry(op, w, w->nkeys);
    memset(e, 0, op->stride);
    if (klen > WEIR__INLINE_KEY) {
        char *kcopy = weir__arena_alloc(&w->arena, klen);
        if (!kcopy)
            return NULL;
        memcpy(kcopy, key, klen);
        e->key.ptr = kcopy;
    } else if (klen) {
        memcpy(e->key.bytes, key, klen);
    }
    e->hash = hash;
    e->klen = (uint32_t)klen;
    for (size_t a = 0; a < op->p.n_aggs; a++)
        op->p.aggs[a].ops->init((uint8_t *)e + op->offs[a], op->p.aggs[a].params);
    w->nkeys++;
    w->index[i] = (hash >> 32) << 32 | w->nkeys;
    op->st.keys_created++;
    op->st.live_keys++;
    return e;
}

weir__kentry *weir__win_key(weir_window_op *op, weir__win *w, uint64_t hash, const char *key,
                            size_t klen)
{
    uint32_t at;
    weir__kentry *e = find_key(op, w, hash, key, klen, &at);
    return e ? e : add_key(op, w, hash, key, klen);
}

/* The index of the first window with start >= `start`. */
static size_t lower_bound(const weir_window_op *op, int64_t start)
{
    size_t lo = 0, hi = op->nwin;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (op->wins[mid]->start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static weir__win *get_window(weir_window_op *op, int64_t start, int64_t wm_before)
{
    if (op->hot < op->nwin && op->wins[op->hot]->start == start)
        return op->wins[op->hot];
    size_t pos = lower_bound(op, start);
    if (pos < op->nwin && op->wins[pos]->start == start) {
        op->hot = pos;
        return op->wins[pos];
    }
    if (op->nwin == op->capwin) {
        size_t cap = op->capwin ? op->capwin * 2 : 8;
        weir__win **nw = realloc(op->wins, cap * sizeof(*nw));
        if (!nw)
            return NULL;
        op->wins = nw;
        op->capwin = cap;
    }
    weir__win *w = weir__win_new(op, start);
    if (!w)
        return NULL;
    memmove(&op->wins[pos + 1], &op->wins[pos], (op->nwin - pos) * sizeof(*op->wins));
    op->wins[pos] = w;
    op->nwin++;
    /* A window created behind the watermark (a late record within the allowed lateness)
     * counts as fired: it belongs to the fired prefix. */
    if (start + op->p.size_ms - 1 <= wm_before)
        op->nfired++;
    op->hot = pos;
    op->st.windows_created++;
    op->st.live_windows++;
    return w;
}

static void emit_entry(weir_window_op *op, weir__win *w, weir__kentry *e, int late)
{
    if (w->log_n)
        win_settle(op, w);
    if (op->nomem)
        return; /* a count short of the ids still logged is never emitted */
    for (size_t a = 0; a < op->p.n_aggs; a++)
        op->values[a] = op->p.aggs[a].ops->result((uint8_t *)e + op->offs[a], op->p.aggs[a].params);
    weir_firing f = {
        .key = {weir__kentry_key(e), e->klen},
        .window_start = w->start,
        .window_end = w->start + op->p.size_ms,
        .late = late,
        .values = op->values,
        .n_values = op->p.n_aggs,
    };
    op->st.emissions++;
    if (op->emit && op->emit(op->emit_opaque, &f) != 0)
        op->emit_failed = 1;
}

static void emit_window(weir_window_op *op, weir__win *w)
{
    for (uint32_t i = 0; i < w->nkeys; i++)
        emit_entry(op, w, weir__entry(op, w, i), 0);
}

/* Fires the windows the watermark has passed and frees those past the lateness. */
static void advance(weir_window_op *op)
{
    int64_t wm = weir__wm_current(op->wm);
    while (op->nfired < op->nwin && !op->nomem) {
        weir__win *w = op->wins[op->nfired];
        if (w->start + op->p.size_ms - 1 > wm)
            break;
        win_settle(op, w);
        if (op->nomem)
            return; /* the window neither fires nor is freed with ids still logged */
        if (op->p.emit == WEIR_EMIT_UPDATES)
            emit_window(op, w);
        op->nfired++;
    }
    size_t nfree = 0;
    while (nfree < op->nfired && !op->nomem) {
        weir__win *w = op->wins[nfree];
        if (add_sat(w->start + op->p.size_ms - 1, op->p.allowed_lateness_ms) > wm)
            break;
        if (op->p.emit == WEIR_EMIT_FINAL)
            emit_window(op, w);
        op->st.live_keys -= w->nkeys;
        if (w->dict.count)
            op->dict_hint = w->dict.count;
        weir__win_free(op, w);
        op->st.windows_freed++;
        op->st.live_windows--;
        nfree++;
    }
    if (nfree) {
        memmove(op->wins, op->wins + nfree, (op->nwin - nfree) * sizeof(*op->wins));
        op->nwin -= nfree;
        op->nfired -= nfree;
        op->hot = 0;
    }
}

/* The hot window: the last one a record went to, NULL when there is none. Most records
 * land in it, or near a window boundary in it and its unfired neighbour (hot_run). */
static inline weir__win *hot_window(const weir_window_op *op)
{
    return op->hot < op->nwin ? op->wins[op->hot] : NULL;
}

/* Adds a record to entry e's aggregates: the built-in ones' common case inline (a call
 * through the table for each aggregate was a tenth of the operator's instructions),
 * the rest through their tables. */
static inline __attribute__((always_inline)) weir_err add_aggs(weir_window_op *op, weir__win *w,
                                                               weir__kentry *e, uint32_t at,
                                                               const weir_agg_input *in, int logged)
{
    if (op->two_builtin) {
        uint8_t *base = (uint8_t *)e;
        if (op->distinct_off && logged) {
            if (w->log_n == w->log_cap && log_room(w, op) != WEIR_OK)
                return WEIR_ERR_NOMEM;
            w->log[w->log_n++] = (uint64_t)at << 32 | in->dense_id;
        } else if (op->distinct_off &&
                   !weir__distinct_append(base + op->distinct_off, in->dense_id) &&
                   weir_agg_distinct_exact.add(base + op->distinct_off, in, op->distinct_params) !=
                       WEIR_OK) {
            return WEIR_ERR_NOMEM;
        }
        if (op->count_off)
            weir__count_add(base + op->count_off);
        return WEIR_OK;
    }
    for (size_t a = 0; a < op->p.n_aggs; a++) {
        uint8_t *state = (uint8_t *)e + op->offs[a];
        if (op->kind[a] == WEIR__AGG_COUNT) {
            weir__count_add(state);
            continue;
        }
        if (op->kind[a] == WEIR__AGG_DISTINCT && weir__distinct_append(state, in->dense_id))
            continue;
        if (op->p.aggs[a].ops->add(state, in, op->p.aggs[a].params) != WEIR_OK)
            return WEIR_ERR_NOMEM;
    }
    return WEIR_OK;
}

/* Adds a record to window w: its key's entry (created if new), its value's dense id, its
 * aggregates; *out gets the entry. The part of a record's work that process_one and
 * process_hot_run share. Returns WEIR_OK or WEIR_ERR_NOMEM. */
static inline __attribute__((always_inline)) weir_err
add_record(weir_window_op *op, weir__win *w, const weir_event *ev, weir__kentry **out, int logged)
{
    uint32_t at;
    weir__kentry *e = find_key(op, w, ev->key_hash, ev->key.ptr, ev->key.len, &at);
    if (!e) {
        if (!(e = add_key(op, w, ev->key_hash, ev->key.ptr, ev->key.len)))
            return WEIR_ERR_NOMEM;
        at = w->nkeys - 1;
    }
    weir_agg_input in = {ev, 0};
    if (op->need_dict &&
        (in.dense_id = weir__dict_intern(&w->dict, ev->user_fp[0], ev->user_fp[1])) == UINT32_MAX)
        return WEIR_ERR_NOMEM;
    *out = e;
    return add_aggs(op, w, e, at, &in, logged);
}

static weir_err process_one(weir_window_op *op, const weir_event *ev, int64_t wall_ms)
{
    int64_t wm_before = weir__wm_current(op->wm);
    /* A record in the hot window needs no division and no search. */
    weir__win *w = hot_window(op);
    int64_t start;
    if (w && ev->ts >= w->start &&
        (uint64_t)ev->ts - (uint64_t)w->start < (uint64_t)op->p.size_ms) {
        start = w->start;
    } else {
        start = floor_start(ev->ts, op->p.size_ms);
        w = NULL;
    }
    int64_t last = start + op->p.size_ms - 1;
    if (add_sat(last, op->p.allowed_lateness_ms) <= wm_before) {
        op->st.late_dropped++;
        if (op->late)
            op->late(op->late_opaque, ev);
        /* A late record is still a record of its partition: it makes the partition active
         * again, below. Its time is behind the watermark, but an idle partition coming back
         * can still move the watermark: when every partition was idle, the watermark held
         * at the slowest one's, and this one's own may be ahead of it. */
    } else {
        if (!w && !(w = get_window(op, start, wm_before)))
            return WEIR_ERR_NOMEM;
        weir__kentry *e;
        if (add_record(op, w, ev, &e, 0) != WEIR_OK)
            return WEIR_ERR_NOMEM;
        op->st.accepted++;
        if (last <= wm_before) {
            op->st.late_accepted++;
            if (op->p.emit == WEIR_EMIT_UPDATES) {
                op->st.late_firings++;
                emit_entry(op, w, e, 1);
            }
        }
    }
    if (weir__wm_observe(op->wm, ev->partition, ev->ts, wall_ms))
        op->st.future_skewed++;
    if (weir__wm_current(op->wm) != wm_before)
        advance(op);
    return WEIR_OK;
}

/* The window of the two a hot run fills that a record ahead is taken to land in, for the
 * prefetch stages: v when two windows are filled and the record's time is outside w, else
 * w. A record of neither costs a wasted prefetch, which is cheaper than checking more. */
static inline __attribute__((always_inline)) const weir__win *
ahead_window(const weir_window_op *op, const weir__win *w, const weir__win *v, const weir_event *ev,
             const int two)
{
    return !two || (uint64_t)ev->ts - (uint64_t)w->start < (uint64_t)op->p.size_ms ? w : v;
}

/* Stage one, far ahead: the key's index slot and the value's dictionary slot in the
 * record's window (of w and v, see ahead_window). */
static inline __attribute__((always_inline)) void
prefetch_slots(const weir_window_op *op, const weir__win *w, const weir__win *v,
               const weir_event *ev, const int two)
{
    w = ahead_window(op, w, v, ev, two);
    weir__prefetch(&w->index[(uint32_t)ev->key_hash & w->imask]);
    if (op->need_dict)
        weir__dict_prefetch(&w->dict, ev->user_fp[0]);
}

/* Stage two, nearer: the key's entry, found through its (by now cached) index slot. */
static inline __attribute__((always_inline)) void
prefetch_entry(const weir_window_op *op, const weir__win *w, const weir__win *v,
               const weir_event *ev, const int two)
{
    w = ahead_window(op, w, v, ev, two);
    uint64_t s = w->index[(uint32_t)ev->key_hash & w->imask];
    if (s && (uint32_t)s <= w->nkeys) {
        const char *e = (const char *)weir__entry(op, w, (uint32_t)s - 1);
        weir__prefetch(e);
        weir__prefetch(e + 64);
    }
}

static inline __attribute__((always_inline)) void prefetch(const weir_window_op *op,
                                                           const weir__win *w, const weir__win *v,
                                                           const weir_event *ev, size_t i, size_t n,
                                                           const int two)
{
    if (i + PREFETCH_DISTANCE < n) {
        prefetch_slots(op, w, v, &ev[i + PREFETCH_DISTANCE], two);
        prefetch_entry(op, w, v, &ev[i + PREFETCH_DISTANCE / 2], two);
    } else if (i + PREFETCH_DISTANCE / 2 < n) {
        prefetch_entry(op, w, v, &ev[i + PREFETCH_DISTANCE / 2], two);
    }
}

/* The lowest watermark at which advance() would fire or free a window. */
static int64_t next_advance_at(const weir_window_op *op)
{
    int64_t at = INT64_MAX;
    if (op->nfired < op->nwin)
        at = op->wins[op->nfired]->start + op->p.size_ms - 1;
    if (op->nfired > 0) {
        int64_t free_at =
            add_sat(op->wins[0]->start + op->p.size_ms - 1, op->p.allowed_lateness_ms);
        if (free_at < at)
            at = free_at;
    }
    return at;
}

/* The index of the unfired window beside the hot one (which must be unfired), or SIZE_MAX
 * when there is none: near a window's end, with out-of-orderness, records of the window
 * and of the next one arrive mixed. */
static size_t partner_window(const weir_window_op *op)
{
    if (op->hot > op->nfired)
        return op->hot - 1;
    return op->hot + 1 < op->nwin ? op->hot + 1 : SIZE_MAX;
}

/*
 * Records events[i..n) while they fall in the hot window and it has not fired, or (`two`)
 * in the hot window or its unfired partner (partner_window, index vi): such a record is
 * neither late nor behind the watermark, so of process_one's checks only the windows'
 * bounds remain, and a watermark that moves calls for advance() only once it reaches the
 * next window to fire or free. Stops before a record of any other window and after one
 * whose advance() did something (a window may have fired); returns where it stopped, or
 * n, with op->hot the window of the last record it added. Does what process_one would
 * do for each record, in the same order. Records that alternate between two windows,
 * a window's last seconds, thus keep the log and the prefetches: through process_one,
 * each change of window cost a direct add to a set and a prefetch pipeline started anew.
 */
static inline __attribute__((always_inline)) size_t hot_run(weir_window_op *op, size_t wi,
                                                            size_t vi, const weir_event *events,
                                                            size_t i, size_t n, int64_t wall_ms,
                                                            weir_err *rc, const int two)
{
    weir__win *w = op->wins[wi], *v = two ? op->wins[vi] : NULL;
    const uint64_t ws = (uint64_t)w->start, vs = two ? (uint64_t)v->start : 0;
    const uint64_t size = (uint64_t)op->p.size_ms;
    const int64_t advance_at = next_advance_at(op);
    size_t at = wi;
    for (; i < n; i++) {
        const weir_event *ev = &events[i];
        weir__win *x = w;
        if ((uint64_t)ev->ts - ws >= size) {
            if (!two || (uint64_t)ev->ts - vs >= size)
                break;
            x = v;
        }
        if (two)
            at = x == w ? wi : vi;
        prefetch(op, w, v, events, i, n, two);
        weir__kentry *e;
        if ((*rc = add_record(op, x, ev, &e, 1)) != WEIR_OK)
            break;
        op->st.accepted++;
        if (weir__wm_observe(op->wm, ev->partition, ev->ts, wall_ms))
            op->st.future_skewed++;
        if (weir__wm_current(op->wm) >= advance_at) {
            op->hot = at;
            advance(op);
            return i + 1;
        }
    }
    op->hot = at;
    return i;
}

static size_t process_hot_run(weir_window_op *op, const weir_event *events, size_t i, size_t n,
                              int64_t wall_ms, weir_err *rc)
{
    size_t vi = partner_window(op);
    if (vi == SIZE_MAX)
        return hot_run(op, op->hot, 0, events, i, n, wall_ms, rc, 0);
    return hot_run(op, op->hot, vi, events, i, n, wall_ms, rc, 1);
}

/* Fires and frees what the watermark has passed, if anything: after a tick, and at the
 * start of every call, for what moved the watermark in between (a change of partitions),
 * before any record is judged against it: a record of a window the watermark has passed
 * must find it fired. */
static void catch_up(weir_window_op *op)
{
    if (weir__wm_current(op->wm) >= next_advance_at(op))
        advance(op);
}

/* What every call returns once the operator is stuck: out of memory with ids still
 * logged, or a sink that refused a firing (both permanent); else WEIR_OK. */
static weir_err op_status(const weir_window_op *op)
{
    return op->nomem ? WEIR_ERR_NOMEM : op->emit_failed ? WEIR_ERR_IO : WEIR_OK;
}

weir_err weir_window_op_process(weir_window_op *op, const weir_event *events, size_t n,
                                int64_t wall_ms)
{
    catch_up(op);
    weir_err stuck = op_status(op);
    if (stuck != WEIR_OK)
        return stuck;
    /* An event of a partition the watermark does not track would be counted in its window
     * without moving the watermark: refused, as gwindow does, after the events before it.
     * Checking the batch up front keeps the check out of the hot run. */
    size_t valid = n;
    for (size_t k = 0; k < n; k++)
        if (events[k].partition < 0 || events[k].partition >= op->p.partitions) {
            valid = k;
            break;
        }
    weir_err bad_partition = valid < n ? WEIR_ERR_INVALID_ARG : WEIR_OK;
    n = valid;
    weir__win *w = hot_window(op);
    for (size_t i = 0; w && i < n && i < PREFETCH_DISTANCE; i++)
        prefetch_slots(op, w, NULL, &events[i], 0);
    size_t i = 0;
    while (i < n) {
        weir_err rc = WEIR_OK;
        w = hot_window(op);
        size_t j = w && op->hot >= op->nfired ? process_hot_run(op, events, i, n, wall_ms, &rc) : i;
        if (j == i && rc == WEIR_OK) {
            /* a record of another window, or of a window that has fired */
            if (w)
                prefetch(op, w, NULL, events, i, n, 0);
            rc = process_one(op, &events[i], wall_ms);
            j = i + 1;
        }
        if (rc == WEIR_OK)
            rc = op_status(op);
        if (rc != WEIR_OK)
            return rc;
        i = j;
    }
    return bad_partition;
}

weir_err weir_window_op_tick(weir_window_op *op, int64_t wall_ms)
{
    weir_watermark_tick(op->wm, wall_ms);
    catch_up(op);
    return op_status(op);
}

weir_err weir_window_op_finish(weir_window_op *op)
{
    weir_watermark_finish(op->wm);
    advance(op);
    return op_status(op);
}

int64_t weir_window_op_watermark(const weir_window_op *op)
{
    return weir__wm_current(op->wm);
}

void weir_window_op_stats(const weir_window_op *op, weir_window_stats *out)
{
    *out = op->st;
    uint64_t bytes = sizeof *op + op->capwin * sizeof(*op->wins);
    for (size_t i = 0; i < op->nwin; i++) {
        const weir__win *w = op->wins[i];
        bytes += sizeof *w + (uint64_t)w->cap_keys * op->stride +
                 (uint64_t)w->log_cap * sizeof *w->log +
                 (uint64_t)(w->imask + 1) * sizeof(uint64_t) + weir__dict_bytes(&w->dict) +
                 w->arena.bytes;
        for (uint32_t k = 0; k < w->nkeys; k++) {
            const weir__kentry *e = weir__entry(op, w, k);
            for (size_t a = 0; a < op->p.n_aggs; a++)
                if (op->p.aggs[a].ops->heap_bytes)
                    bytes += op->p.aggs[a].ops->heap_bytes((const uint8_t *)e + op->offs[a],
                                                           op->p.aggs[a].params);
        }
    }
    out->state_bytes = bytes;
}

weir_err weir_window_op_set_partitions(weir_window_op *op, int partitions)
{
    weir_err rc = weir_watermark_set_partitions(op->wm, partitions);
    if (rc == WEIR_OK)
        op->p.partitions = partitions;
    return rc;
}

weir_err weir_window_op_reset_partition(weir_window_op *op, int partition)
{
    if (partition < 0 || partition >= op->p.partitions)
        return WEIR_ERR_INVALID_ARG;
    weir_watermark_reset_partition(op->wm, partition);
    return WEIR_OK;
}
