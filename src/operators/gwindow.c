/* The generic window operator: tumbling, hopping and session windows, their lateness,
 * firing, cleanup and emission modes (docs/SEMANTICS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "operators/gwindow_int.h"
#include "operators/watermark_int.h"

/*
 * Design. Tumbling and hopping windows share one mechanism, window slicing (Flink's sliding
 * window slicing, Scotty): time is cut into slices of g = gcd(W, S) (W for tumbling windows,
 * aligned to the offset), and each key keeps one block of aggregate states per non-empty
 * slice, so an accepted record is added once whatever W/S is. Window k covers the slices
 * [k*r, k*r + n) with r = S/g and n = W/g; when it fires, its slices are combined with the
 * aggregates' merge into a scratch block (a single slice is read directly).
 *
 * So that a hopping window's firing does not cost W/S merges, the aggregates that can undo a
 * merge (weir_gagg_ops.unmerge: count, count_distinct) are kept per key in a running state
 * of the window that fires next (run_k == fire_k): a record is added to its slice and, when
 * the slice is in that window, to the running state too; once the window has fired, the
 * running state slides to the key's next window, unmerging the slices that leave and merging
 * those that enter, before any slice is freed. A firing then reads the running state, and
 * only the other aggregates merge slices. Late firings of earlier windows merge slices as
 * before. Whenever the next window changes otherwise (a record earlier than it, a restore),
 * the running state is dropped and rebuilt from the slices when that window fires.
 *
 * Late records cannot leak into a closed window: a closed window (end - 1 + L <= WM) never
 * fires or emits again and so never reads a slice again, and every window still alive that
 * holds the record's slice also holds the record. A slice is freed once the last window
 * holding it closes. Sessions are blocks of their own per key, merged with the aggregates'
 * merge when a record joins them.
 *
 * What fires when: two queues of (threshold, key) entries. In updates mode the fire queue
 * holds, per key, the threshold (end - 1) of its next window to fire on time and the close
 * queue that of its oldest block to free (end - 1 + L). In final mode the fire queue holds
 * the next window to emit and free (end - 1 + L). Entries are lazy: a key keeps the
 * threshold it registered, an entry that no longer matches it (or a freed key's, by a
 * generation count) is skipped when popped. Each pop fires one window, so windows fire in
 * order of end across keys.
 *
 * A queue is a bucketed timer wheel in front of a heap (weir__tq): the watermark moves
 * forward a little at a time, so most entries are pushed a gap or a window ahead of it, and
 * one heap of a million keys (session windows) cost ten cache misses a pop. Entries of the
 * current 2^WEIR__TQ_SHIFT ms bucket are in a sorted array (`run`, and a small heap,
 * `near`, for those pushed into it later), those of the following WEIR__TQ_N buckets are
 * appended, unsorted, to their bucket of a ring, and only those further ahead go to a heap
 * (`far`). A bucket is sorted into `run` once `run` and `near` are empty and the watermark
 * reaches the bucket's first instant, so entries still come out in order of threshold, and
 * entries of one threshold all at once. Knowing the next entries to pop, advance() reads
 * their keys ahead in stages, as weir_gwindow_process does for records.
 */

static const weir_value missing_value = {.type = WEIR_VALUE_MISSING};

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
    return r;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* ---------------------------------------------------------------- window arithmetic */

static int64_t slice_of(const weir_gwindow *op, int64_t t)
{
    /* t - off without overflow: off is in [0, g). */
    if (t < INT64_MIN + op->off)
        return floor_div(t, op->g) - 1;
    return floor_div(t - op->off, op->g);
}

static int64_t win_start(const weir_gwindow *op, int64_t k)
{
    return sat_add(sat_mul(sat_mul(k, op->r), op->g), op->off);
}

static int64_t win_end(const weir_gwindow *op, int64_t k)
{
    return sat_add(win_start(op, k), sat_mul(op->nsl, op->g));
}

/* The threshold at which window k fires on time (end - 1) and closes (end - 1 + L). */
static int64_t fire_thr(const weir_gwindow *op, int64_t k)
{
    return sat_add(win_end(op, k), -1);
}

static int64_t close_thr(const weir_gwindow *op, int64_t k)
{
    return sat_add(fire_thr(op, k), op->L);
}

/* The windows holding slice j: kmin..kmax. */
static int64_t kmax_of(const weir_gwindow *op, int64_t j)
{
    return floor_div(j, op->r);
}

static int64_t kmin_of(const weir_gwindow *op, int64_t j)
{
    /* ceil((j - n + 1) / r), without overflow at the ends of time */
    int64_t x = sat_add(j, 1 - op->nsl);
    int64_t q = x / op->r;
    return x % op->r > 0 ? q + 1 : q;
}

/* The first window whose fire threshold (end - 1) is above `thr`. */
static int64_t first_window_after(const weir_gwindow *op, int64_t thr)
{
    if (thr == INT64_MIN)
        return INT64_MIN / 2 / (op->r * op->g);
    int64_t x = sat_add(sat_add(sat_add(thr, 1), -op->off), -sat_mul(op->nsl, op->g));
    return floor_div(x, op->r * op->g) + 1;
}

/* ---------------------------------------------------------------- heaps */

/* The key's first 8 bytes, big-endian, zero-padded: fire-heap entries carry it, so that
 * the keys due at one threshold are put in order without reading most of them. */
static uint64_t key_prefix(const weir__gkey *k)
{
    uint64_t p = 0;
    for (uint32_t i = 0; i < 8; i++)
        p = p << 8 | (i < k->klen ? (uint8_t)k->kbytes[i] : 0);
    return p;
}

/* A 4-ary min-heap by threshold: a node's children share one cache line, which halves the
 * cache misses of a pop in the large heaps of session windows (one entry per key). */
static int heap_push(weir__heap *h, int64_t t, uint32_t key, uint32_t gen, uint64_t p0)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        weir__hent *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (h->v[p].t <= t)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = (weir__hent){t, key, gen, p0};
    return 0;
}

static weir__hent heap_pop(weir__heap *h)
{
    weir__hent top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= h->n)
            break;
        size_t m = c, end = c + 4 < h->n ? c + 4 : h->n;
        for (size_t j = c + 1; j < end; j++)
            if (h->v[j].t < h->v[m].t)
                m = j;
        if (last.t <= h->v[m].t)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

/* The bucket of threshold t: floor(t / 2^WEIR__TQ_SHIFT). */
static int64_t tq_bucket(int64_t t)
{
    return floor_div(t, (int64_t)1 << WEIR__TQ_SHIFT);
}

static void tq_init(weir__tq *q)
{
    *q = (weir__tq){.cur = tq_bucket(INT64_MIN)};
}

static void tq_free(weir__tq *q)
{
    free(q->run.v);
    free(q->near.v);
    free(q->far.v);
    if (q->ring)
        for (size_t i = 0; i < WEIR__TQ_N; i++)
            free(q->ring[i].v);
    free(q->ring);
    tq_init(q);
}

static size_t tq_cap(const weir__tq *q)
{
    size_t c = q->run.cap + q->near.cap + q->far.cap;
    if (q->ring)
        for (size_t i = 0; i < WEIR__TQ_N; i++)
            c += q->ring[i].cap;
    return c;
}

/* Appends to an unsorted bucket. */
static int bucket_push(weir__heap *h, weir__hent e)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        weir__hent *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = e;
    return 0;
}

static int tq_place(weir__tq *q, weir__hent e)
{
    int64_t b = tq_bucket(e.t);
    if (b <= q->cur)
        return heap_push(&q->near, e.t, e.key, e.gen, e.p0);
    if (b - q->cur > WEIR__TQ_N)
        return heap_push(&q->far, e.t, e.key, e.gen, e.p0);
    if (!q->ring && !(q->ring = calloc(WEIR__TQ_N, sizeof *q->ring)))
        return -1;
    if (bucket_push(&q->ring[(uint64_t)b % WEIR__TQ_N], e) != 0)
        return -1;
    q->ring_n++;
    return 0;
}

static int tq_push(weir__tq *q, int64_t t, uint32_t key, uint32_t gen, uint64_t p0)
{
    return tq_place(q, (weir__hent){t, key, gen, p0});
}

static int cmp_hent(const void *a, const void *b)
{
    const weir__hent *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* The earliest of `run` and `near`, or NULL when both are empty. */
static const weir__hent *tq_top(const weir__tq *q)
{
    const weir__hent *r = q->run_pos < q->run.n ? &q->run.v[q->run_pos] : NULL;
    if (q->near.n && (!r || q->near.v[0].t < r->t))
        return &q->near.v[0];
    return r;
}

/* Brings the earliest entries into `run` and `near` when some may be due at wm: while both
 * are empty and the next bucket starts at or before wm, that bucket is sorted into `run`
 * (and what of `far` comes within the ring moves in). Returns the earliest entry, or NULL
 * when none is due at wm. Sets *fail when out of memory. */
static const weir__hent *tq_due(weir__tq *q, int64_t wm, int *fail)
{
    while (q->run_pos == q->run.n && !q->near.n) {
        int64_t next = q->cur + 1;
        if (!q->ring_n) {
            if (!q->far.n)
                return NULL;
            int64_t fb = tq_bucket(q->far.v[0].t);
            next = fb > next ? fb : next;
        }
        /* the bucket's first instant, next * 2^SHIFT, is at or before wm */
        if (next > tq_bucket(wm))
            return NULL;
        q->cur = next;
        q->run.n = q->run_pos = 0;
        if (q->ring_n) {
            /* The bucket's array becomes `run`, and run's (empty) array the bucket's. */
            weir__heap *b = &q->ring[(uint64_t)next % WEIR__TQ_N], t = *b;
            *b = q->run;
            q->run = t;
            q->ring_n -= q->run.n;
            if (q->run.n > 1)
                qsort(q->run.v, q->run.n, sizeof *q->run.v, cmp_hent);
        }
        while (q->far.n && tq_bucket(q->far.v[0].t) - q->cur <= WEIR__TQ_N)
            if (tq_place(q, heap_pop(&q->far)) != 0) {
                *fail = 1;
                return NULL;
            }
    }
    const weir__hent *top = tq_top(q);
    return top->t <= wm ? top : NULL;
}

/* Pops an entry of threshold t into *out when there is one (all are in run and near). */
static int tq_pop_at(weir__tq *q, int64_t t, weir__hent *out)
{
    if (q->run_pos < q->run.n && q->run.v[q->run_pos].t == t) {
        *out = q->run.v[q->run_pos++];
        return 1;
    }
    if (q->near.n && q->near.v[0].t == t) {
        *out = heap_pop(&q->near);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- memory */

/*
 * Memory. A session job keeps a key and a block for each of a million users, read at
 * random, one record at a time: with 4 KiB pages nearly every access also misses the TLB,
 * and a prefetch that misses the TLB is dropped, so the staged prefetches of
 * weir_gwindow_process did not help. Keys and blocks therefore come from 2 MiB chunks asked
 * for with transparent huge pages (as state/dict.c does for its tables), carved by a bump
 * pointer, with a free list per 16-byte size class; larger ones from malloc. The chunks go
 * back to the system when the operator is cleared. Under AddressSanitizer every piece is
 * malloc'ed, so that misuse of one is still caught.
 */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_DIRECT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_DIRECT 1
#endif
#endif
#ifndef POOL_DIRECT
#define POOL_DIRECT 0
#endif

/* n bytes mapped at a huge-page boundary, or NULL. */
static void *huge_map(size_t n)
{
    size_t span = n + WEIR__POOL_CHUNK;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p =
        (char *)(((uintptr_t)raw + WEIR__POOL_CHUNK - 1) & ~(uintptr_t)(WEIR__POOL_CHUNK - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + span - (p + n));
    if (tail)
        munmap(p + n, tail);
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE);
#endif
    return p;
}

void *weir__gwindow_mem(weir_gwindow *op, size_t n)
{
    if (POOL_DIRECT || n > WEIR__POOL_MAX)
        return calloc(1, n);
    weir__pool *pl = &op->pool;
    size_t c = (n + 15) / 16;
    void *p = pl->free[c];
    if (p) {
        pl->free[c] = *(void **)p;
        memset(p, 0, c * 16);
        return p;
    }
    if ((size_t)(pl->bump_end - pl->bump) < c * 16) {
        char *chunk = huge_map(WEIR__POOL_CHUNK);
        if (!chunk)
            return NULL;
        *(void **)chunk = pl->chunks;
        pl->chunks = chunk;
        pl->bump = chunk + 64;
        pl->bump_end = chunk + WEIR__POOL_CHUNK;
    }
    p = pl->bump; /* fresh pages are zeroed, and a piece is never handed out twice */
    pl->bump += c * 16;
    return p;
}

void weir__gwindow_mem_free(weir_gwindow *op, void *p, size_t n)
{
    if (!p)
        return;
    if (POOL_DIRECT || n > WEIR__POOL_MAX) {
        free(p);
        return;
    }
    size_t c = (n + 15) / 16;
    *(void **)p = op->pool.free[c];
    op->pool.free[c] = p;
}

static void pool_release(weir__pool *pl)
{
    while (pl->chunks) {
        void *next = *(void **)pl->chunks;
        munmap(pl->chunks, WEIR__POOL_CHUNK);
        pl->chunks = next;
    }
    *pl = (weir__pool){0};
}

/* ---------------------------------------------------------------- blocks */

weir__gblock *weir__gblock_new(weir_gwindow *op)
{
    weir__gblock *b = weir__gwindow_mem(op, op->block_size);
    if (!b)
        return NULL;
    for (size_t a = 0; a < op->p.n_aggs; a++)
        op->defs[a].ops->init((uint8_t *)b + op->offs[a], op->defs[a].params);
    return b;
}

static void block_fini(const weir_gwindow *op, weir__gblock *b)
{
    for (size_t a = 0; a < op->p.n_aggs; a++)
        if (op->defs[a].ops->free)
            op->defs[a].ops->free((uint8_t *)b + op->offs[a], op->defs[a].params);
}

void weir__gblock_free(weir_gwindow *op, weir__gblock *b)
{
    if (!b)
        return;
    block_fini(op, b);
    weir__gwindow_mem_free(op, b, op->block_size);
}

/* Adds record r to block b and, when not NULL, to the running state `run` (its aggregates
 * with unmerge). */
static void block_add(weir_gwindow *op, weir__gblock *b, weir__gblock *run, const weir_row *r)
{
    b->records++;
    if (run)
        run->records++;
    for (size_t a = 0; a < op->p.n_aggs; a++) {
        const weir_gagg_def *d = &op->defs[a];
        if (d->where && !d->where(d->where_ctx, r))
            continue;
        const weir_value *v = NULL;
        if (d->field >= 0)
            v = (size_t)d->field < r->n_values ? &r->values[d->field] : &missing_value;
        if (d->ops->add((uint8_t *)b + op->offs[a], v, r, d->params) != WEIR_OK)
            op->failed = 1;
        if (run && op->inv[a] &&
            d->ops->add((uint8_t *)run + op->offs[a], v, r, d->params) != WEIR_OK)
            op->failed = 1;
    }
}

static void block_merge(weir_gwindow *op, weir__gblock *dst, const weir__gblock *src)
{
    dst->records += src->records;
    for (size_t a = 0; a < op->p.n_aggs; a++)
        if (op->defs[a].ops->merge((uint8_t *)dst + op->offs[a], (const uint8_t *)src + op->offs[a],
                                   op->defs[a].params) != WEIR_OK)
            op->failed = 1;
}

/* ---------------------------------------------------------------- keys */

/* The table holds the keys themselves, so that finding one costs two cache misses (its slot,
 * then the key), not three. */
static void tab_put(weir_gwindow *op, weir__gkey *e)
{
    uint32_t i = (uint32_t)e->hash & op->tmask;
    while (op->tab[i])
        i = (i + 1) & op->tmask;
    op->tab[i] = e;
}

/* The arrays indexed by a key's slot (keys, gens), read at random when a fire pops: like
 * the table, a large one is mapped with huge pages. arr_grow returns a copy of old[0..ob)
 * in a new array of nb bytes (old unchanged), or NULL. */
static void arr_free(void *p, size_t bytes)
{
    if (p && bytes >= WEIR__POOL_CHUNK)
        munmap(p, bytes);
    else
        free(p);
}

static void *arr_grow(const void *old, size_t ob, size_t nb)
{
    void *p = nb >= WEIR__POOL_CHUNK ? huge_map(nb) : malloc(nb);
    if (p && ob)
        memcpy(p, old, ob);
    return p;
}

/* Frees a table of `bytes` (mapped when at least a huge page). */
static void tab_free(weir__gkey **t, size_t bytes)
{
    if (bytes >= WEIR__POOL_CHUNK)
        munmap(t, bytes);
    else
        free(t);
}

/* The table is probed at random, once a record: a large one is mapped with huge pages. */
static int tab_grow(weir_gwindow *op)
{
    uint32_t cap = op->tab ? (op->tmask + 1) * 2 : 1024;
    weir__gkey **old = op->tab;
    uint32_t oldcap = op->tab ? op->tmask + 1 : 0;
    size_t bytes = (size_t)cap * sizeof *old;
    weir__gkey **t = bytes >= WEIR__POOL_CHUNK ? huge_map(bytes) : calloc(cap, sizeof *t);
    if (!t)
        return -1;
    op->tab = t;
    op->tmask = cap - 1;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i])
            tab_put(op, old[i]);
    tab_free(old, op->tab_bytes);
    op->tab_bytes = bytes;
    return 0;
}

static weir__gkey *key_find(const weir_gwindow *op, uint64_t hash, const char *k, size_t klen)
{
    if (!op->tab)
        return NULL;
    for (uint32_t i = (uint32_t)hash & op->tmask; op->tab[i]; i = (i + 1) & op->tmask) {
        weir__gkey *e = op->tab[i];
        if (e->hash == hash && e->klen == klen && (klen == 0 || memcmp(e->kbytes, k, klen) == 0))
            return e;
    }
    return NULL;
}

weir__gkey *weir__gkey_insert(weir_gwindow *op, uint64_t hash, const char *k, uint32_t klen)
{
    if ((op->tcount + 1) * 2 > (op->tab ? op->tmask + 1 : 0) && tab_grow(op) != 0)
        return NULL;
    if (!op->nfree && op->used_slots == op->nkeys_cap) {
        uint32_t old = op->nkeys_cap, cap = old ? old * 2 : 256;
        weir__gkey **keys = arr_grow(op->keys, (size_t)old * sizeof *keys, cap * sizeof *keys);
        uint32_t *gens = arr_grow(op->gens, (size_t)old * sizeof *gens, cap * sizeof *gens);
        uint32_t *fl = realloc(op->freelist, cap * sizeof *fl);
        if (fl)
            op->freelist = fl;
        if (!keys || !gens || !fl) {
            arr_free(keys, cap * sizeof *keys);
            arr_free(gens, cap * sizeof *gens);
            return NULL;
        }
        arr_free(op->keys, (size_t)old * sizeof *keys);
        arr_free(op->gens, (size_t)old * sizeof *gens);
        op->keys = keys;
        op->gens = gens;
        memset(op->gens + old, 0, (cap - old) * sizeof *gens);
        op->nkeys_cap = cap;
    }
    weir__gkey *e = weir__gwindow_mem(op, sizeof *e + klen);
    if (!e)
        return NULL;
    e->hash = hash;
    e->klen = klen;
    if (klen)
        memcpy(e->kbytes, k, klen);
    e->fire_k = e->fire_t = e->close_t = e->run_k = WEIR__NONE;
    uint32_t idx = op->nfree ? op->freelist[--op->nfree] : op->used_slots++;
    e->idx = idx;
    op->keys[idx] = e;
    tab_put(op, e);
    op->tcount++;
    return e;
}

/* Removes a key without blocks from the table (backward-shift deletion) and frees it. */
static void key_remove(weir_gwindow *op, weir__gkey *e)
{
    uint32_t i = (uint32_t)e->hash & op->tmask;
    while (op->tab[i] != e)
        i = (i + 1) & op->tmask;
    for (;;) {
        op->tab[i] = NULL;
        uint32_t j = i;
        for (;;) {
            j = (j + 1) & op->tmask;
            if (!op->tab[j])
                goto done;
            uint32_t home = (uint32_t)op->tab[j]->hash & op->tmask;
            /* The entry at j may move to i when its home is not in (i, j]. */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        op->tab[i] = op->tab[j];
        i = j;
    }
done:
    op->tcount--;
    op->gens[e->idx]++;
    op->keys[e->idx] = NULL;
    op->freelist[op->nfree++] = e->idx;
    weir__gblock_free(op, e->run);
    free(e->cv);
    if (e->bl != e->inl)
        free(e->bl);
    weir__gwindow_mem_free(op, e, sizeof *e + e->klen);
}

/* Makes room for one more block pointer at the end of the key's array. */
static int key_reserve(weir__gkey *k)
{
    if (k->head + k->n < k->cap)
        return 0;
    if (k->head > 0) {
        memmove(k->bl, k->bl + k->head, k->n * sizeof *k->bl);
        k->head = 0;
        return 0;
    }
    if (!k->bl) {
        /* Most keys hold one or two blocks at a time: no array of their own. */
        k->bl = k->inl;
        k->cap = WEIR__KEY_INLINE;
        return 0;
    }
    uint32_t cap = k->cap * 2;
    weir__gref *bl = k->bl == k->inl ? malloc(cap * sizeof *bl) : realloc(k->bl, cap * sizeof *bl);
    if (!bl)
        return -1;
    if (k->bl == k->inl)
        memcpy(bl, k->inl, k->n * sizeof *bl);
    k->bl = bl;
    k->cap = cap;
    return 0;
}

int weir__gkey_append(weir__gkey *k, weir__gblock *b)
{
    if (key_reserve(k) != 0)
        return -1;
    k->bl[k->head + k->n++] = (weir__gref){b->a, b};
    return 0;
}

/* Inserts b, whose a is `a`, at position pos (0..n) of the key's blocks. */
static int key_insert_at(weir__gkey *k, uint32_t pos, int64_t a, weir__gblock *b)
{
    if (key_reserve(k) != 0)
        return -1;
    weir__gref *v = k->bl + k->head;
    memmove(v + pos + 1, v + pos, (k->n - pos) * sizeof *v);
    v[pos] = (weir__gref){a, b};
    k->n++;
    return 0;
}

/* Position of the first block with a >= x. */
static uint32_t key_lower(const weir__gkey *k, int64_t x)
{
    const weir__gref *v = k->bl + k->head;
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid].a < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* key_lower for an x that is usually among the key's oldest blocks (each probe of a block
 * is a cache miss): a few blocks from the front, then a binary search. */
static uint32_t key_lower_front(const weir__gkey *k, int64_t x)
{
    const weir__gref *v = k->bl + k->head;
    for (uint32_t i = 0; i < k->n && i < 3; i++)
        if (v[i].a >= x)
            return i;
    return k->n <= 3 ? k->n : key_lower(k, x);
}

/* ---------------------------------------------------------------- emission */

/* Computes the results of block b into op->vals. Returns 0, or -1 out of memory. */
static int block_results(weir_gwindow *op, weir__gblock *b)
{
    for (size_t a = 0; a < op->p.n_aggs; a++)
        if (op->defs[a].ops->result((uint8_t *)b + op->offs[a], op->defs[a].params, &op->vals[a]) !=
            WEIR_OK) {
            op->failed = 1;
            return -1;
        }
    return 0;
}

/* Emits op->vals as the firing of (k, [start, end)). */
static void emit_vals(weir_gwindow *op, const weir__gkey *k, int64_t start, int64_t end, int late)
{
    weir_gwindow_firing f = {
        .key = {k->kbytes, k->klen},
        .window_start = start,
        .window_end = end,
        .late = late,
        .values = op->vals,
        .n_values = op->p.n_aggs,
    };
    op->st.emissions++;
    if (late)
        op->st.late_firings++;
    if (op->emit && op->emit(op->opaque, &f) != 0)
        op->io = 1;
}

static void emit_block(weir_gwindow *op, const weir__gkey *k, weir__gblock *b, int64_t start,
                       int64_t end, int late)
{
    if (block_results(op, b) == 0)
        emit_vals(op, k, start, end, late);
}

/* Keeps the results just computed for a hopping window of slices first..last (count n), so
 * that the key's next windows over the same slices reuse them: at the end of input, or in a
 * quiet key, W/S windows in a row often hold the same slices. String results point into a
 * state and are not kept. */
static void cache_vals(weir_gwindow *op, weir__gkey *k, int64_t first, int64_t last, uint32_t n)
{
    k->cv_n = 0;
    for (size_t a = 0; a < op->p.n_aggs; a++)
        if (op->vals[a].type == WEIR_VALUE_STRING)
            return;
    if (!k->cv && !(k->cv = malloc((op->p.n_aggs ? op->p.n_aggs : 1) * sizeof *k->cv)))
        return; /* only a lost shortcut */
    memcpy(k->cv, op->vals, op->p.n_aggs * sizeof *k->cv);
    k->cv_first = first;
    k->cv_last = last;
    k->cv_n = n;
}

/* Merges (or, with `unmerge`, takes out) slice src into the running state of a key: the
 * aggregates kept running. */
static void run_apply(weir_gwindow *op, weir__gblock *run, const weir__gblock *src, int unmerge)
{
    run->records = unmerge ? run->records - src->records : run->records + src->records;
    for (size_t a = 0; a < op->p.n_aggs; a++) {
        if (!op->inv[a])
            continue;
        const weir_gagg_ops *o = op->defs[a].ops;
        uint8_t *d = (uint8_t *)run + op->offs[a];
        const uint8_t *x = (const uint8_t *)src + op->offs[a];
        if ((unmerge ? o->unmerge(d, x, op->defs[a].params) : o->merge(d, x, op->defs[a].params)) !=
            WEIR_OK)
            op->failed = 1;
    }
}

/* Makes the key's running state that of window `win`: slides it there when it holds an
 * earlier window overlapping `win`, else rebuilds it from the slices. */
static void run_move(weir_gwindow *op, weir__gkey *k, int64_t win)
{
    if (k->run_k == win)
        return;
    if (!k->run && !(k->run = weir__gblock_new(op))) {
        op->failed = 1;
        return;
    }
    const weir__gref *v = k->bl + k->head;
    int64_t lo = sat_mul(win, op->r), hi = sat_add(lo, op->nsl);
    if (k->run_k != WEIR__NONE && k->run_k < win && sat_mul(win - k->run_k, op->r) < op->nsl) {
        /* The slices that leave are mostly the key's oldest, those that enter its newest:
         * found from either end without a binary search over every block. */
        int64_t olo = sat_mul(k->run_k, op->r), ohi = sat_add(olo, op->nsl);
        uint32_t i = key_lower_front(k, olo);
        for (; i < k->n && v[i].a < lo; i++)
            run_apply(op, k->run, v[i].b, 1);
        i = k->n;
        while (i > 0 && v[i - 1].a >= ohi)
            i--;
        for (; i < k->n && v[i].a < hi; i++)
            run_apply(op, k->run, v[i].b, 0);
    } else {
        k->run->records = 0;
        for (size_t a = 0; a < op->p.n_aggs; a++) {
            if (!op->inv[a])
                continue;
            const weir_gagg_def *d = &op->defs[a];
            uint8_t *st = (uint8_t *)k->run + op->offs[a];
            if (d->ops->free)
                d->ops->free(st, d->params);
            memset(st, 0, d->ops->state_size);
            d->ops->init(st, d->params);
        }
        for (uint32_t i = key_lower(k, lo); i < k->n && v[i].a < hi; i++)
            run_apply(op, k->run, v[i].b, 0);
    }
    k->run_k = win;
}

/* Drops the key's running state (it no longer has a window to fire). */
static void run_drop(weir_gwindow *op, weir__gkey *k)
{
    weir__gblock_free(op, k->run);
    k->run = NULL;
    k->run_k = WEIR__NONE;
}

/* Fires (or emits) window `win` of a slicing key: its slices combined, or, with `running`
 * (the key's running state is at win), that state for the aggregates it keeps. */
static void emit_window(weir_gwindow *op, weir__gkey *k, int64_t win, int late, int running)
{
    size_t na = op->p.n_aggs;
    if (running && op->n_inv == na) {
        /* Every result is in the running state: no slice is read (a window that fires holds
         * a slice, so a record). */
        if (!k->run || !k->run->records)
            return;
        for (size_t a = 0; a < na && !op->failed; a++)
            if (op->defs[a].ops->result((uint8_t *)k->run + op->offs[a], op->defs[a].params,
                                        &op->vals[a]) != WEIR_OK)
                op->failed = 1;
        if (!op->failed)
            emit_vals(op, k, win_start(op, win), win_end(op, win), late);
        return;
    }
    int64_t lo = sat_mul(win, op->r), hi = sat_add(lo, op->nsl);
    uint32_t i = key_lower(k, lo), first = i;
    const weir__gref *v = k->bl + k->head;
    while (i < k->n && v[i].a < hi)
        i++;
    if (i == first)
        return; /* no slice: nothing to emit (cannot happen for a registered window) */
    int64_t start = win_start(op, win), end = win_end(op, win);
    uint32_t n = i - first;
    running = running && op->n_inv;
    /* The results of the last window are kept for the merged aggregates only. */
    int hop = op->nsl > 1 && !(running && op->n_inv == na);
    if (hop && k->cv_n == n && k->cv_first == v[first].a && k->cv_last == v[i - 1].a) {
        memcpy(op->vals, k->cv, na * sizeof *k->cv);
        emit_vals(op, k, start, end, late);
        return;
    }
    weir__gblock *t = NULL;
    if (n > 1 && !(running && op->n_inv == na)) {
        t = (weir__gblock *)op->tmp;
        memset(t, 0, op->block_size);
        for (size_t a = 0; a < na; a++)
            if (!running || !op->inv[a])
                op->defs[a].ops->init((uint8_t *)t + op->offs[a], op->defs[a].params);
        for (uint32_t j = first; j < i; j++)
            for (size_t a = 0; a < na; a++)
                if ((!running || !op->inv[a]) &&
                    op->defs[a].ops->merge((uint8_t *)t + op->offs[a],
                                           (const uint8_t *)v[j].b + op->offs[a],
                                           op->defs[a].params) != WEIR_OK)
                    op->failed = 1;
    }
    for (size_t a = 0; a < na && !op->failed; a++) {
        weir__gblock *src = running && op->inv[a] ? k->run : t ? t : v[first].b;
        if (op->defs[a].ops->result((uint8_t *)src + op->offs[a], op->defs[a].params,
                                    &op->vals[a]) != WEIR_OK)
            op->failed = 1;
    }
    if (!op->failed) {
        if (hop)
            cache_vals(op, k, v[first].a, v[i - 1].a, n);
        emit_vals(op, k, start, end, late);
    }
    if (t)
        for (size_t a = 0; a < na; a++)
            if ((!running || !op->inv[a]) && op->defs[a].ops->free)
                op->defs[a].ops->free((uint8_t *)t + op->offs[a], op->defs[a].params);
}

/* ---------------------------------------------------------------- slicing: registration */

/* Registers window `win` as the key's next window to fire (emit, in final mode) when it is
 * earlier than the one registered. */
static void note_fire(weir_gwindow *op, weir__gkey *k, int64_t win)
{
    if (k->fire_k != WEIR__NONE && k->fire_k <= win)
        return;
    int64_t t = op->single ? close_thr(op, win) : fire_thr(op, win);
    if (k->run_k != win)
        k->run_k = WEIR__NONE; /* rebuilt when win fires */
    k->fire_k = win;
    k->fire_t = t;
    if (tq_push(&op->fire, t, k->idx, op->gens[k->idx], key_prefix(k)) != 0)
        op->failed = 1;
}

/* Updates mode: registers the close of slice j when it is the key's earliest. */
static void note_close_t(weir_gwindow *op, weir__gkey *k, int64_t t)
{
    if (k->close_t != WEIR__NONE && k->close_t <= t)
        return;
    k->close_t = t;
    if (tq_push(&op->close, t, k->idx, op->gens[k->idx], 0) != 0)
        op->failed = 1;
}

/* The first window holding one of the key's slices after window `after` (NONE if none). */
static int64_t next_window(const weir_gwindow *op, const weir__gkey *k, int64_t after)
{
    if (after == INT64_MAX)
        return WEIR__NONE;
    uint32_t i = key_lower_front(k, sat_mul(after + 1, op->r));
    if (i >= k->n)
        return WEIR__NONE;
    int64_t w = kmin_of(op, k->bl[k->head + i].a);
    return w > after + 1 ? w : after + 1;
}

/* Frees the key's slices below index `below`. */
static void free_slices_below(weir_gwindow *op, weir__gkey *k, int64_t below)
{
    while (k->n && k->bl[k->head].a < below) {
        weir__gblock_free(op, k->bl[k->head].b);
        k->head++;
        k->n--;
        op->st.live_slices--;
    }
}

/* ---------------------------------------------------------------- slicing: records */

static void slice_record(weir_gwindow *op, const weir_row *r, int64_t wm)
{
    int64_t j = slice_of(op, r->ts);
    int64_t kmax = kmax_of(op, j), kmin = kmin_of(op, j);
    if (close_thr(op, kmax) <= wm) {
        op->st.late_dropped++;
        if (op->late_fn)
            op->late_fn(op->late_opaque, r);
        return;
    }
    weir__gkey *k = key_find(op, r->key_hash, r->key.ptr, r->key.len);
    if (!k && !(k = weir__gkey_insert(op, r->key_hash, r->key.ptr, (uint32_t)r->key.len))) {
        op->failed = 1;
        return;
    }
    /* The slice: most records land in the key's newest. */
    weir__gblock *b = NULL;
    uint32_t pos = k->n;
    while (pos > 0 && k->bl[k->head + pos - 1].a > j)
        pos--;
    if (pos > 0 && k->bl[k->head + pos - 1].a == j) {
        b = k->bl[k->head + pos - 1].b;
    } else {
        b = weir__gblock_new(op);
        if (!b || key_insert_at(k, pos, j, b) != 0) {
            weir__gblock_free(op, b);
            op->failed = 1;
            if (!k->n)
                key_remove(op, k);
            return;
        }
        b->a = j;
        op->st.live_slices++;
        if (!op->single)
            note_close_t(op, k, close_thr(op, kmax));
    }
    weir__gblock *run = NULL;
    if (k->run_k != WEIR__NONE && j >= sat_mul(k->run_k, op->r) &&
        j < sat_add(sat_mul(k->run_k, op->r), op->nsl))
        run = k->run;
    block_add(op, b, run, r);
    k->cv_n = 0;
    op->st.accepted++;
    int final = op->single;
    int late = 0;
    int64_t first_open = WEIR__NONE;
    /* Most records are on time: when the earliest of their windows has not fired, none has. */
    if (fire_thr(op, kmin) > wm)
        first_open = kmin;
    for (int64_t w = kmin; first_open == WEIR__NONE && w <= kmax; w++) {
        if (close_thr(op, w) <= wm)
            continue;
        if (fire_thr(op, w) <= wm) {
            late = 1;
            if (!final)
                emit_window(op, k, w, 1, 0);
            else if (first_open == WEIR__NONE)
                first_open = w;
        } else {
            first_open = w;
        }
        if (w == kmax)
            break;
    }
    if (late)
        op->st.late_accepted++;
    if (first_open != WEIR__NONE)
        note_fire(op, k, first_open);
}

/* A popped fire-heap entry of a slicing key: fire (updates) or emit and free (final). */
static void slice_fire_due(weir_gwindow *op, weir__gkey *k)
{
    int64_t win = k->fire_k;
    k->fire_k = k->fire_t = WEIR__NONE;
    int final = op->single;
    if (op->n_inv)
        run_move(op, k, win);
    emit_window(op, k, win, 0, 1);
    int64_t next = next_window(op, k, win);
    /* The running state moves on before any slice it holds is freed. */
    if (op->n_inv) {
        if (next != WEIR__NONE)
            run_move(op, k, next);
        else
            run_drop(op, k);
    }
    if (final)
        free_slices_below(op, k, win == INT64_MAX ? INT64_MAX : sat_mul(win + 1, op->r));
    if (next != WEIR__NONE)
        note_fire(op, k, next);
    if (final && !k->n)
        key_remove(op, k);
}

/* A popped close-heap entry (updates mode): free the slices whose last window closed. */
static void slice_close_due(weir_gwindow *op, weir__gkey *k, int64_t wm)
{
    k->close_t = WEIR__NONE;
    while (k->n && close_thr(op, kmax_of(op, k->bl[k->head].a)) <= wm)
        free_slices_below(op, k, k->bl[k->head].a + 1);
    if (k->n)
        note_close_t(op, k, close_thr(op, kmax_of(op, k->bl[k->head].a)));
    else
        key_remove(op, k);
}

/* ---------------------------------------------------------------- sessions */

static int64_t sess_fire_thr(const weir__gblock *b)
{
    return sat_add(b->b, -1);
}

static int64_t sess_close_thr(const weir_gwindow *op, const weir__gblock *b)
{
    return sat_add(sat_add(b->b, -1), op->L);
}

/* Registers the key's earliest pending session fire (updates) or emit (final), and its
 * earliest close (updates). */
static void sess_register(weir_gwindow *op, weir__gkey *k)
{
    int final = op->single;
    int64_t fire = WEIR__NONE, close = WEIR__NONE;
    for (uint32_t i = 0; i < k->n; i++) {
        const weir__gblock *b = k->bl[k->head + i].b;
        int64_t c = sess_close_thr(op, b);
        close = c < close ? c : close;
        if (!final && !b->fired) {
            int64_t f = sess_fire_thr(b);
            fire = f < fire ? f : fire;
        }
    }
    if (final)
        fire = close;
    if (fire != WEIR__NONE && (k->fire_t == WEIR__NONE || fire < k->fire_t)) {
        k->fire_t = fire;
        if (tq_push(&op->fire, fire, k->idx, op->gens[k->idx], key_prefix(k)) != 0)
            op->failed = 1;
    }
    if (!final && close != WEIR__NONE)
        note_close_t(op, k, close);
}

static void sess_record(weir_gwindow *op, const weir_row *r, int64_t wm)
{
    int64_t s = r->ts, e = sat_add(r->ts, op->p.spec.gap_ms);
    weir__gkey *k = key_find(op, r->key_hash, r->key.ptr, r->key.len);
    /* The sessions [a, b) it intersects: a <= e and b >= s. */
    uint32_t lo = 0, hi = 0;
    if (k) {
        const weir__gref *v = k->bl + k->head;
        hi = key_lower(k, sat_add(e, 1)); /* first with a > e */
        lo = hi;
        while (lo > 0 && v[lo - 1].b->b >= s)
            lo--;
    }
    if (lo == hi && sat_add(sat_add(e, -1), op->L) <= wm) {
        op->st.late_dropped++;
        if (op->late_fn)
            op->late_fn(op->late_opaque, r);
        return;
    }
    if (!k && !(k = weir__gkey_insert(op, r->key_hash, r->key.ptr, (uint32_t)r->key.len))) {
        op->failed = 1;
        return;
    }
    weir__gblock *b;
    weir__gref *v = k->bl + k->head;
    if (lo == hi) {
        b = weir__gblock_new(op);
        if (!b || key_insert_at(k, lo, s, b) != 0) {
            weir__gblock_free(op, b);
            op->failed = 1;
            if (!k->n)
                key_remove(op, k);
            return;
        }
        b->a = s;
        b->b = e;
        op->st.live_sessions++;
    } else if (hi == lo + 1 && v[lo].a <= s && e <= v[lo].b->b) {
        b = v[lo].b;
    } else {
        b = v[lo].b;
        int64_t na = s < b->a ? s : b->a, nb = e > v[hi - 1].b->b ? e : v[hi - 1].b->b;
        for (uint32_t i = lo + 1; i < hi; i++) {
            block_merge(op, b, v[i].b);
            weir__gblock_free(op, v[i].b);
            op->st.live_sessions--;
        }
        memmove(v + lo + 1, v + hi, (k->n - hi) * sizeof *v);
        k->n -= hi - lo - 1;
        b->a = v[lo].a = na;
        b->b = nb;
        b->fired = 0;
    }
    block_add(op, b, NULL, r);
    op->st.accepted++;
    if (sess_fire_thr(b) <= wm) {
        op->st.late_accepted++;
        if (op->p.emit == WEIR_EMIT_UPDATES) {
            emit_block(op, k, b, b->a, b->b, 1);
            b->fired = 1;
        }
    }
    sess_register(op, k);
}

/* A popped fire-heap entry of a session key: the sessions due fire (updates) or emit and
 * are freed (final), in order of end. */
static void sess_fire_due(weir_gwindow *op, weir__gkey *k, int64_t t)
{
    k->fire_t = WEIR__NONE;
    int final = op->single;
    uint32_t out = 0;
    weir__gref *v = k->bl + k->head;
    for (uint32_t i = 0; i < k->n; i++) {
        weir__gblock *b = v[i].b;
        if (final && sess_close_thr(op, b) <= t) {
            emit_block(op, k, b, b->a, b->b, 0);
            weir__gblock_free(op, b);
            op->st.live_sessions--;
            continue;
        }
        if (!final && !b->fired && sess_fire_thr(b) <= t) {
            emit_block(op, k, b, b->a, b->b, 0);
            b->fired = 1;
        }
        v[out++] = v[i];
    }
    k->n = out;
    if (!k->n) {
        key_remove(op, k);
        return;
    }
    sess_register(op, k);
}

static void sess_close_due(weir_gwindow *op, weir__gkey *k, int64_t wm)
{
    k->close_t = WEIR__NONE;
    uint32_t out = 0;
    weir__gref *v = k->bl + k->head;
    for (uint32_t i = 0; i < k->n; i++) {
        if (sess_close_thr(op, v[i].b) <= wm) {
            weir__gblock_free(op, v[i].b);
            op->st.live_sessions--;
        } else {
            v[out++] = v[i];
        }
    }
    k->n = out;
    if (!k->n)
        key_remove(op, k);
    else
        sess_register(op, k);
}

/* ---------------------------------------------------------------- the watermark */

/* Key bytes in lexicographic (memcmp) order, a proper prefix first. */
static int cmp_due(const void *a, const void *b)
{
    const weir__fent *x = a, *y = b;
    if (x->p0 != y->p0)
        return x->p0 < y->p0 ? -1 : 1;
    uint32_t lx = x->k->klen, ly = y->k->klen, n = lx < ly ? lx : ly;
    int c = n ? memcmp(x->k->kbytes, y->k->kbytes, n) : 0;
    if (c)
        return c;
    return (lx > ly) - (lx < ly);
}

/* Reads, for due entries [i, i + m), what their firings read first (the key, its block
 * array, running state and oldest block), in passes over the group: the loads of one pass
 * are independent, so their cache misses overlap, where a firing would take them one by
 * one. (Prefetch instructions did not help here: on this kind of machine they are dropped
 * when the address misses the TLB, as a key's address mostly does.) */
static void touch_due(const weir_gwindow *op, size_t i, size_t m)
{
    const weir__gkey *ks[16];
    uint64_t acc = 0;
    for (size_t j = 0; j < m; j++) {
        const weir__fent *d = &op->due[i + j];
        /* a key freed by an earlier firing is not read */
        ks[j] = op->gens[d->key] == d->gen ? op->keys[d->key] : NULL;
        if (ks[j])
            acc += ks[j]->n;
    }
    for (size_t j = 0; j < m; j++)
        if (ks[j] && ks[j]->n)
            acc += (uint64_t)ks[j]->bl[ks[j]->head].a + (ks[j]->run ? ks[j]->run->records : 0);
    for (size_t j = 0; j < m; j++)
        if (ks[j] && ks[j]->n)
            acc += ks[j]->bl[ks[j]->head].b->records;
    __asm__ volatile("" : : "r"(acc));
}

/* Reads ahead, in stages, what the fire queue's next entries will read when they pop: the
 * key's slot in keys and gens, the key, then its oldest block. A key is read only when its
 * generation matches, so it is alive. */
static void fire_ahead(const weir_gwindow *op)
{
    const weir__tq *q = &op->fire;
    size_t p = q->run_pos;
    if (p + 8 < q->run.n) {
        __builtin_prefetch(&op->gens[q->run.v[p + 8].key]);
        __builtin_prefetch(&op->keys[q->run.v[p + 8].key]);
    }
    if (p + 4 < q->run.n) {
        const weir__hent *e = &q->run.v[p + 4];
        if (op->gens[e->key] == e->gen && op->keys[e->key])
            __builtin_prefetch(op->keys[e->key]);
    }
    if (p + 2 < q->run.n) {
        const weir__hent *e = &q->run.v[p + 2];
        const weir__gkey *k = op->gens[e->key] == e->gen ? op->keys[e->key] : NULL;
        if (k && k->n)
            __builtin_prefetch(k->bl[k->head].b);
    }
}

/* Fires and frees what the watermark has passed, in order of threshold (so of window end),
 * and the keys sharing a threshold in order of their bytes: an order that depends on the
 * state alone, so a restored operator fires as an uninterrupted one does. */
static void advance(weir_gwindow *op)
{
    int64_t wm = weir__wm_current(op->wm);
    if (wm == op->wmv)
        return;
    int session = op->p.spec.kind == WEIR_WINDOW_SESSION;
    const weir__hent *top;
    while (!op->failed && (top = tq_due(&op->fire, wm, &op->failed))) {
        int64_t t = top->t;
        size_t nd = 0;
        weir__hent h;
        fire_ahead(op);
        /* Entries of one threshold share a bucket: all are in `run` and `near`. */
        while (tq_pop_at(&op->fire, t, &h)) {
            /* Only the generations are read here (entries that no longer match their key's
             * fire_t are skipped when fired): a key is a cache miss. */
            weir__gkey *k = op->gens[h.key] == h.gen ? op->keys[h.key] : NULL;
            if (!k)
                continue;
            if (nd == op->due_cap) {
                size_t cap = op->due_cap ? op->due_cap * 2 : 64;
                weir__fent *d = realloc(op->due, cap * sizeof *d);
                if (!d) {
                    op->failed = 1;
                    return;
                }
                op->due = d;
                op->due_cap = cap;
            }
            op->due[nd++] = (weir__fent){h.p0, k, h.key, h.gen};
        }
        if (nd > 1)
            qsort(op->due, nd, sizeof *op->due, cmp_due);
        for (size_t i = 0; i < nd && !op->failed; i++) {
            if (i % 16 == 0)
                touch_due(op, i, nd - i < 16 ? nd - i : 16);
            const weir__fent *d = &op->due[i];
            /* an earlier entry of the batch may have fired (and freed) this key */
            weir__gkey *k = op->gens[d->key] == d->gen ? op->keys[d->key] : NULL;
            if (!k || k->fire_t != t)
                continue;
            if (session)
                sess_fire_due(op, k, t);
            else
                slice_fire_due(op, k);
        }
    }
    while (!op->failed && (top = tq_due(&op->close, wm, &op->failed))) {
        weir__hent h;
        tq_pop_at(&op->close, top->t, &h);
        weir__gkey *k = op->gens[h.key] == h.gen ? op->keys[h.key] : NULL;
        if (!k || k->close_t != h.t)
            continue;
        if (session)
            sess_close_due(op, k, wm);
        else
            slice_close_due(op, k, wm);
    }
    op->wmv = wm;
}

static weir_err status(weir_gwindow *op)
{
    if (op->failed)
        return WEIR_ERR_NOMEM;
    if (op->io) {
        op->io = 0;
        return WEIR_ERR_IO;
    }
    return WEIR_OK;
}

/* ---------------------------------------------------------------- the spec */

static weir_err spec_fail(const char *text, const char *why, char *errstr, size_t errstr_size)
{
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size,
                 "window spec \"%.200s\": %s; accepted: tumble:W, tumble:W@O, hop:W/S "
                 "(0 < S <= W) or session:G, with durations like 500ms, 10s, 5m, 1h, 1d",
                 text ? text : "(null)", why);
    return WEIR_ERR_INVALID_ARG;
}

/* Parses the duration text[0..len) into *out. */
static int duration(const char *text, size_t len, int64_t *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = 0;
    return weir_parse_duration(buf, out) == WEIR_OK ? 0 : -1;
}

weir_err weir_window_spec_parse(const char *text, weir_window_spec *out, char *errstr,
                                size_t errstr_size)
{
    if (!text || !out)
        return spec_fail(text, "no spec", errstr, errstr_size);
    weir_window_spec s = {0};
    const char *colon = strchr(text, ':');
    if (!colon)
        return spec_fail(text, "no kind before ':'", errstr, errstr_size);
    size_t kl = (size_t)(colon - text);
    const char *rest = colon + 1;
    size_t rl = strlen(rest);
    if (kl == 6 && memcmp(text, "tumble", 6) == 0) {
        s.kind = WEIR_WINDOW_TUMBLE;
        const char *at = strchr(rest, '@');
        size_t wl = at ? (size_t)(at - rest) : rl;
        if (duration(rest, wl, &s.size_ms) != 0 || s.size_ms <= 0)
            return spec_fail(text, "the size must be a duration > 0", errstr, errstr_size);
        if (at && duration(at + 1, strlen(at + 1), &s.offset_ms) != 0)
            return spec_fail(text, "the offset must be a duration", errstr, errstr_size);
        s.slide_ms = s.size_ms;
    } else if (kl == 3 && memcmp(text, "hop", 3) == 0) {
        s.kind = WEIR_WINDOW_HOP;
        const char *slash = strchr(rest, '/');
        if (!slash)
            return spec_fail(text, "a hop needs a size and a slide, W/S", errstr, errstr_size);
        if (duration(rest, (size_t)(slash - rest), &s.size_ms) != 0 || s.size_ms <= 0)
            return spec_fail(text, "the size must be a duration > 0", errstr, errstr_size);
        if (duration(slash + 1, strlen(slash + 1), &s.slide_ms) != 0 || s.slide_ms <= 0 ||
            s.slide_ms > s.size_ms)
            return spec_fail(text, "the slide must be a duration > 0 and at most the size", errstr,
                             errstr_size);
    } else if (kl == 7 && memcmp(text, "session", 7) == 0) {
        s.kind = WEIR_WINDOW_SESSION;
        if (duration(rest, rl, &s.gap_ms) != 0 || s.gap_ms <= 0)
            return spec_fail(text, "the gap must be a duration > 0", errstr, errstr_size);
    } else {
        return spec_fail(text, "unknown kind", errstr, errstr_size);
    }
    *out = s;
    return WEIR_OK;
}

/* ---------------------------------------------------------------- life cycle */

static weir_gwindow *fail_new(weir_gwindow *op, char *errstr, size_t errstr_size, const char *fmt,
                              ...) __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static weir_gwindow *fail_new(weir_gwindow *op, char *errstr, size_t errstr_size, const char *fmt,
                              ...)
{
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    weir_gwindow_destroy(op);
    return NULL;
}

/* Checks aggregate i; returns NULL or what is wrong. */
static const char *check_agg(const weir_gagg_def *d, weir_window_kind kind, char *buf, size_t n)
{
    const weir_gagg_ops *o = d->ops;
    if (!o->name)
        return "name is required";
    if (!o->init)
        return "init is required";
    if (!o->add)
        return "add is required";
    if (!o->result)
        return "result is required";
    if (o->state_size == 0)
        return "state_size must be at least 1";
    if (o->state_size > WEIR_GAGG_STATE_MAX) {
        snprintf(buf, n, "state_size %zu exceeds the maximum %d", o->state_size,
                 WEIR_GAGG_STATE_MAX);
        return buf;
    }
    if (!o->merge && kind != WEIR_WINDOW_TUMBLE)
        return "merge is required for hop and session windows";
    int ser = !!o->serialized_size + !!o->serialize + !!o->deserialize;
    if (ser != 0 && ser != 3)
        return !o->serialized_size ? "serialized_size is required with serialize and deserialize"
               : !o->serialize     ? "serialize is required with serialized_size and deserialize"
                                   : "deserialize is required with serialized_size and serialize";
    if (d->field < -1)
        return "field must be -1 or an index into the record's values";
    return NULL;
}

weir_gwindow *weir_gwindow_new(const weir_gwindow_params *p, weir_gwindow_emit_fn emit,
                               void *opaque, char *errstr, size_t errstr_size)
{
    if (!p)
        return fail_new(NULL, errstr, errstr_size, "no params");
    const weir_window_spec *s = &p->spec;
    switch (s->kind) {
    case WEIR_WINDOW_TUMBLE:
        if (s->size_ms <= 0)
            return fail_new(NULL, errstr, errstr_size, "tumbling window size must be > 0");
        break;
    case WEIR_WINDOW_HOP:
        if (s->size_ms <= 0 || s->slide_ms <= 0 || s->slide_ms > s->size_ms)
            return fail_new(NULL, errstr, errstr_size,
                            "hopping windows need 0 < slide <= size (size %lld, slide %lld)",
                            (long long)s->size_ms, (long long)s->slide_ms);
        break;
    case WEIR_WINDOW_SESSION:
        if (s->gap_ms <= 0)
            return fail_new(NULL, errstr, errstr_size, "session gap must be > 0");
        break;
    default: return fail_new(NULL, errstr, errstr_size, "unknown window kind %d", (int)s->kind);
    }
    if (p->allowed_lateness_ms < 0)
        return fail_new(NULL, errstr, errstr_size, "allowed lateness must be >= 0");
    if (p->emit != WEIR_EMIT_UPDATES && p->emit != WEIR_EMIT_FINAL)
        return fail_new(NULL, errstr, errstr_size, "unknown emission mode %d", (int)p->emit);
    if (p->partitions < 1)
        return fail_new(NULL, errstr, errstr_size, "partitions must be >= 1");
    if (p->n_aggs > WEIR_GWINDOW_MAX_AGGS)
        return fail_new(NULL, errstr, errstr_size, "%zu aggregates exceed the maximum %d",
                        p->n_aggs, WEIR_GWINDOW_MAX_AGGS);
    if (p->n_aggs && !p->aggs)
        return fail_new(NULL, errstr, errstr_size, "aggs is NULL");
    for (size_t a = 0; a < p->n_aggs; a++) {
        const weir_gagg_def *d = &p->aggs[a];
        char buf[96];
        const char *why = d->ops ? check_agg(d, s->kind, buf, sizeof buf) : "ops is NULL";
        if (why)
            return fail_new(NULL, errstr, errstr_size, "aggregate %zu (%s): %s", a + 1,
                            d->name                  ? d->name
                            : d->ops && d->ops->name ? d->ops->name
                                                     : "?",
                            why);
    }
    weir_gwindow *op = calloc(1, sizeof *op);
    if (!op)
        return fail_new(NULL, errstr, errstr_size, "out of memory");
    op->p = *p;
    if (p->n_aggs)
        memcpy(op->defs, p->aggs, p->n_aggs * sizeof *p->aggs);
    op->p.aggs = op->defs;
    size_t off = sizeof(weir__gblock);
    for (size_t a = 0; a < p->n_aggs; a++) {
        op->offs[a] = off;
        off += (op->defs[a].ops->state_size + 7) & ~(size_t)7;
    }
    op->block_size = off;
    op->emit = emit;
    op->opaque = opaque;
    op->L = p->allowed_lateness_ms;
    /* Without lateness a window closes when it fires and never fires late: updates mode
     * then emits exactly what final mode does, with one pending event per key. */
    op->single = p->emit == WEIR_EMIT_FINAL || p->allowed_lateness_ms == 0;
    op->wmv = WEIR_TS_MIN;
    tq_init(&op->fire);
    tq_init(&op->close);
    if (s->kind == WEIR_WINDOW_TUMBLE) {
        op->g = s->size_ms;
        op->off = s->offset_ms % s->size_ms;
        if (op->off < 0)
            op->off += s->size_ms;
        op->r = op->nsl = 1;
    } else if (s->kind == WEIR_WINDOW_HOP) {
        op->g = gcd64(s->size_ms, s->slide_ms);
        op->r = s->slide_ms / op->g;
        op->nsl = s->size_ms / op->g;
        for (size_t a = 0; a < p->n_aggs && op->nsl > 1; a++)
            if (op->defs[a].ops->unmerge) {
                op->inv[a] = 1;
                op->n_inv++;
            }
    }
    op->wm = weir_watermark_new(p->partitions, &p->wm);
    op->vals = calloc(p->n_aggs ? p->n_aggs : 1, sizeof *op->vals);
    op->tmp = calloc(1, op->block_size);
    if (!op->wm || !op->vals || !op->tmp)
        return fail_new(op, errstr, errstr_size, "out of memory");
    return op;
}

/* Frees every key and block (no emission). */
void weir__gwindow_clear(weir_gwindow *op)
{
    for (uint32_t i = 0; i < op->used_slots; i++) {
        weir__gkey *k = op->keys[i];
        if (!k)
            continue;
        for (uint32_t j = 0; j < k->n; j++)
            weir__gblock_free(op, k->bl[k->head + j].b);
        weir__gblock_free(op, k->run);
        free(k->cv);
        if (k->bl != k->inl)
            free(k->bl);
        weir__gwindow_mem_free(op, k, sizeof *k + k->klen);
        op->keys[i] = NULL;
    }
    arr_free(op->keys, (size_t)op->nkeys_cap * sizeof *op->keys);
    arr_free(op->gens, (size_t)op->nkeys_cap * sizeof *op->gens);
    free(op->freelist);
    tab_free(op->tab, op->tab_bytes);
    op->tab_bytes = 0;
    pool_release(&op->pool);
    tq_free(&op->fire);
    tq_free(&op->close);
    op->keys = NULL;
    op->gens = op->freelist = NULL;
    op->tab = NULL;
    op->nkeys_cap = op->nfree = op->used_slots = op->tmask = op->tcount = 0;
    op->st.live_slices = op->st.live_sessions = 0;
}

void weir_gwindow_destroy(weir_gwindow *op)
{
    if (!op)
        return;
    weir__gwindow_clear(op);
    weir_watermark_destroy(op->wm);
    free(op->vals);
    free(op->tmp);
    free(op->due);
    free(op);
}

void weir_gwindow_set_late_output(weir_gwindow *op, weir_gwindow_late_fn fn, void *opaque)
{
    op->late_fn = fn;
    op->late_opaque = opaque;
}

weir_err weir_gwindow_process(weir_gwindow *op, const weir_row *recs, size_t n, int64_t wall_ms)
{
    if (op->failed)
        return WEIR_ERR_NOMEM;
    advance(op);
    int session = op->p.spec.kind == WEIR_WINDOW_SESSION;
    size_t d = session ? 4 : 2;
    for (size_t i = 0; i < n; i++) {
        const weir_row *r = &recs[i];
        /* The state of the records a few ahead, in stages (the key table's slot, the key,
         * then its newest block reference and running state): their cache misses overlap
         * this work. A key is read only from the table, so it is alive. Session keys (one
         * per user, 10^6 in gwindow-session-30s) are read twice as far ahead, which measured
         * faster there; tumbling and hopping windows keep the distances they were tuned with. */
        if (i + 4 * d < n && op->tab)
            __builtin_prefetch(&op->tab[(uint32_t)recs[i + 4 * d].key_hash & op->tmask]);
        if (i + 2 * d < n && op->tab) {
            const weir__gkey *c = op->tab[(uint32_t)recs[i + 2 * d].key_hash & op->tmask];
            if (c) {
                __builtin_prefetch(c);
                __builtin_prefetch(c->kbytes); /* compared by key_find, lines further */
            }
        }
        if (i + d < n && op->tab) {
            const weir__gkey *c = op->tab[(uint32_t)recs[i + d].key_hash & op->tmask];
            if (c && c->hash == recs[i + d].key_hash && c->n) {
                __builtin_prefetch(c->bl + c->head + c->n - 1);
                if (session && c->bl == c->inl)
                    __builtin_prefetch(c->inl[c->head + c->n - 1].b); /* its open session */
                if (c->run) {
                    __builtin_prefetch(c->run);
                    __builtin_prefetch((const char *)c->run + 64);
                }
            }
        }
        if (r->partition < 0 || r->partition >= op->p.partitions) {
            weir_err rc = status(op);
            return rc != WEIR_OK ? rc : WEIR_ERR_INVALID_ARG;
        }
        if (session)
            sess_record(op, r, op->wmv);
        else
            slice_record(op, r, op->wmv);
        op->st.future_skewed += (uint64_t)weir__wm_observe(op->wm, r->partition, r->ts, wall_ms);
        advance(op);
        if (op->failed || op->io)
            return status(op);
    }
    return WEIR_OK;
}

weir_err weir_gwindow_tick(weir_gwindow *op, int64_t wall_ms)
{
    if (op->failed)
        return WEIR_ERR_NOMEM;
    weir_watermark_tick(op->wm, wall_ms);
    advance(op);
    return status(op);
}

weir_err weir_gwindow_finish(weir_gwindow *op)
{
    if (op->failed)
        return WEIR_ERR_NOMEM;
    weir_watermark_finish(op->wm);
    advance(op);
    return status(op);
}

int64_t weir_gwindow_watermark(const weir_gwindow *op)
{
    return weir__wm_current(op->wm);
}

void weir_gwindow_stats(const weir_gwindow *op, weir_gwindow_counters *out)
{
    *out = op->st;
    out->live_keys = op->tcount;
    uint64_t bytes = sizeof *op + op->block_size + (uint64_t)op->nkeys_cap * 12 +
                     (op->tab ? (uint64_t)(op->tmask + 1) * sizeof *op->tab : 0) +
                     (tq_cap(&op->fire) + tq_cap(&op->close)) * sizeof(weir__hent);
    for (uint32_t i = 0; i < op->used_slots; i++) {
        const weir__gkey *k = op->keys[i];
        if (!k)
            continue;
        bytes += sizeof *k + k->klen + (uint64_t)k->cap * sizeof(void *);
        for (uint32_t j = 0; j <= k->n; j++) {
            const weir__gblock *b = j < k->n ? k->bl[k->head + j].b : k->run;
            if (!b)
                continue;
            bytes += op->block_size;
            for (size_t a = 0; a < op->p.n_aggs; a++)
                if (op->defs[a].ops->heap_bytes)
                    bytes += op->defs[a].ops->heap_bytes((const uint8_t *)b + op->offs[a],
                                                         op->defs[a].params);
        }
    }
    out->state_bytes = bytes;
}

weir_err weir_gwindow_set_partitions(weir_gwindow *op, int partitions)
{
    weir_err rc = weir_watermark_set_partitions(op->wm, partitions);
    if (rc == WEIR_OK)
        op->p.partitions = partitions;
    return rc;
}

weir_err weir_gwindow_reset_partition(weir_gwindow *op, int partition)
{
    if (partition < 0 || partition >= op->p.partitions)
        return WEIR_ERR_INVALID_ARG;
    weir_watermark_reset_partition(op->wm, partition);
    return WEIR_OK;
}

/* After a restore: registers every key's next fire and close from its blocks and the
 * watermark (op->wmv). Returns 0 or -1 when out of memory. */
int weir__gwindow_reschedule(weir_gwindow *op)
{
    int64_t wm = op->wmv;
    for (uint32_t i = 0; i < op->used_slots; i++) {
        weir__gkey *k = op->keys[i];
        if (!k || !k->n)
            continue;
        if (op->p.spec.kind == WEIR_WINDOW_SESSION) {
            sess_register(op, k);
            continue;
        }
        int final = op->single;
        int64_t j0 = k->bl[k->head].a;
        /* The first window of the oldest slice not yet fired (emitted) at wm. */
        int64_t w = first_window_after(op, final ? sat_add(wm, -op->L) : wm);
        int64_t kmin = kmin_of(op, j0);
        w = w > kmin ? w : kmin;
        int64_t next = next_window(op, k, w - 1);
        if (next != WEIR__NONE)
            note_fire(op, k, next);
        if (!final)
            note_close_t(op, k, close_thr(op, kmax_of(op, j0)));
    }
    return op->failed ? -1 : 0;
}

weir_err weir_gwindow_observe(weir_gwindow *op, int32_t partition, int64_t ts, int64_t wall_ms)
{
    if (op->failed)
        return WEIR_ERR_NOMEM;
    advance(op);
    if (partition < 0 || partition >= op->p.partitions) {
        weir_err rc = status(op);
        return rc != WEIR_OK ? rc : WEIR_ERR_INVALID_ARG;
    }
    op->st.future_skewed += (uint64_t)weir__wm_observe(op->wm, partition, ts, wall_ms);
    advance(op);
    return status(op);
}
