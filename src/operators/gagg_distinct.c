/* Distinct counting over any field: exact (a set of the values' bytes) and approximate
 * (a HyperLogLog sketch, weir/hll.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "operators/gagg_int.h"
#include "operators/hll_state_int.h"
#include "weir/gagg.h"
#include "weir/hll.h"

/*
 * The exact set is a multiset: each value with the number of records that carried it, so
 * that a hopping window's running state can take a slice's records out again (unmerge) and
 * still know whether a value remains. Values are compared by their bytes, so the count is
 * exact whatever the hash does.
 *
 * Layout, for the cache: an open-addressing table (linear probing, at most 3/4 full) of
 * 24-byte entries holding 32 bits of the value's hash (vhash), its length, its
 * multiplicity and, for a value of at most 8 bytes (a user id, a number's text), the bytes
 * themselves, so that finding one costs one cache miss; a longer value's bytes are in an
 * arena and the entry holds their offset. A set of one value keeps it inline in the state
 * (no table): a hopping window's slice of one key often holds one record. An empty set owns
 * nothing.
 *
 * Dense mode: a set of integers packed in a range (Nexmark's bidder and auction ids, any
 * sequence number) keeps one 32-bit count per integer of the range instead of the table: an
 * insert is one increment in an array of 4 bytes a value rather than a probe in 32 to 64,
 * so that a set of a million ids stays in the cache. A set of at least DENSE_MIN values
 * whose values are all integers in canonical decimal text (no leading zero, no '+', "-0" or
 * more than 18 digits: the text of an integer field, or a string equal to it) spread over at
 * most DENSE_SPREAD integers a value turns dense when its table would grow; the range grows
 * with headroom as values arrive. Anything else (another kind of text, a value too far out,
 * a count past 2^32 - 1) turns it back into a table, for good. Both modes count the same
 * values with the same multiplicities, and the serialized form is the same.
 *
 * Serialized form, little-endian: u32 count, then per value u32 length and its bytes
 * (multiplicities are not written: a restored set counts each value once, which keeps
 * every set a window's running state is built from consistent with it).
 */
typedef struct dentry {
    uint32_t h;    /* 32 bits of vhash(value) */
    uint32_t len1; /* length + 1; 0 marks an empty slot */
    uint64_t v;    /* the bytes (at most 8, zero-padded), or their offset in the arena */
    uint64_t mult; /* records of the value */
} dentry;

typedef struct dset {
    dentry *tab;     /* cap slots, or NULL: then the values (at most one) are in `one` */
    char *arena;     /* bytes of the values longer than 8 */
    uint64_t vbytes; /* bytes of all values */
    uint32_t n, cap; /* values, slots (a power of two, or 0) */
    uint32_t used, acap, dead;
    uint32_t dense_off; /* the set left dense mode: it keeps its table */
    dentry one;
    uint32_t *cnt;  /* dense mode: the count of each integer base .. base + cells - 1 */
    int64_t base;   /* the integer of cnt[0] */
    uint64_t cells; /* counts in cnt */
    int64_t lo, hi; /* the smallest and largest integer counted since dense mode began */
} dset;

_Static_assert(sizeof(dset) <= WEIR_GAGG_STATE_MAX, "the set fits inline");

#define INLINE_MAX      8
#define DENSE_MIN       48
#define DENSE_SPREAD    8
#define DENSE_CELLS_MAX (1u << 28)

static void dset_init(void *state, const void *params)
{
    (void)params;
    memset(state, 0, sizeof(dset));
}

static uint64_t pack(const char *p, size_t len)
{
    uint64_t v = 0;
    memcpy(&v, p, len);
    return v;
}

static const char *dval(const dset *s, const dentry *e)
{
    return e->len1 - 1 <= INLINE_MAX ? (const char *)&e->v : s->arena + e->v;
}

/* The hash of a value's bytes. A value of at most 8 bytes (an id, an integer's text: most
 * values) is mixed from its packed bytes with a few multiplies, where XXH3's length dispatch
 * would cost more than the probe; longer values take XXH3-64. The hash is never written out
 * (a restored set hashes its values again), so it may change between versions. */
static uint32_t vhash(const char *p, size_t len)
{
    if (len > INLINE_MAX)
        return (uint32_t)XXH3_64bits(p, len);
    uint64_t x = pack(p, len) + (uint64_t)len * 0x9e3779b97f4a7c15u;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53u;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* The entries of a set: its table, or `one`, as an array of slots. */
static const dentry *slots(const dset *s, uint32_t *n)
{
    if (s->tab) {
        *n = s->cap;
        return s->tab;
    }
    *n = s->n;
    return &s->one;
}

static int same(const dset *s, const dentry *e, uint32_t h, const char *p, size_t len, uint64_t v)
{
    if (e->h != h || e->len1 != len + 1)
        return 0;
    return len <= INLINE_MAX ? e->v == v : memcmp(s->arena + e->v, p, len) == 0;
}

/* The entry of a value, or NULL. */
static dentry *find(dset *s, uint32_t h, const char *p, size_t len, uint64_t v)
{
    if (!s->tab)
        return s->n && same(s, &s->one, h, p, len, v) ? &s->one : NULL;
    for (uint32_t j = h & (s->cap - 1); s->tab[j].len1; j = (j + 1) & (s->cap - 1))
        if (same(s, &s->tab[j], h, p, len, v))
            return &s->tab[j];
    return NULL;
}

static void put(dentry *t, uint32_t cap, const dentry *e)
{
    uint32_t j = e->h & (cap - 1);
    while (t[j].len1)
        j = (j + 1) & (cap - 1);
    t[j] = *e;
}

static int grow_table(dset *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 8;
    if (cap > (1u << 30))
        return -1;
    dentry *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    uint32_t ns;
    const dentry *old = slots(s, &ns);
    for (uint32_t i = 0; i < ns; i++)
        if (old[i].len1)
            put(t, cap, &old[i]);
    free(s->tab);
    s->tab = t;
    s->cap = cap;
    return 0;
}

/* The integer whose canonical decimal text is (p, len): 0, or -1 when the text is not one
 * (dense mode holds only integers whose text is canonical, so a text maps to one count). */
static int canon_int(const char *p, size_t len, int64_t *out)
{
    size_t i = len && p[0] == '-';
    size_t digits = len - i;
    if (digits == 0 || digits > 18 || (p[i] == '0' && (digits > 1 || i)))
        return -1;
    int64_t x = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned char)p[i] - (unsigned)'0';
        if (d > 9)
            return -1;
        x = x * 10 + (int64_t)d;
    }
    *out = p[0] == '-' ? -x : x;
    return 0;
}

/* Counts integers lo .. hi (hi - lo < 2 * 10^18) at headroom `slack` past the side that
 * grows: a new count array holding the old one. 0, 1 when the range would break the
 * spread rule, -1 when out of memory (the set unchanged). */
static int dense_span(dset *s, int64_t lo, int64_t hi, uint32_t values)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    if (span > (uint64_t)DENSE_SPREAD * values + 64 || span > DENSE_CELLS_MAX)
        return 1;
    uint64_t slack = span / 2 + 16;
    int64_t end = s->cnt ? s->base + (int64_t)s->cells - 1 : hi;
    int64_t nb = s->cnt && s->base <= lo ? s->base : lo - (int64_t)slack;
    int64_t ne = end >= hi ? end : hi + (int64_t)slack;
    if ((uint64_t)(ne - nb) + 1 > DENSE_CELLS_MAX) {
        nb = s->cnt && s->base < lo ? s->base : lo;
        ne = end > hi ? end : hi;
    }
    uint64_t cells = (uint64_t)(ne - nb) + 1;
    if (cells > DENSE_CELLS_MAX)
        return 1;
    uint32_t *c = calloc(cells, sizeof *c);
    if (!c)
        return -1;
    if (s->cnt)
        memcpy(c + (s->base - nb), s->cnt, s->cells * sizeof *c);
    free(s->cnt);
    s->cnt = c;
    s->base = nb;
    s->cells = cells;
    return 0;
}

/* Dense mode: adds `mult` records of integer x, of text length len. 0, 1 when the set
 * must leave dense mode for it, -1 when out of memory (the set unchanged). */
static int dense_add(dset *s, int64_t x, size_t len, uint64_t mult, int *fresh)
{
    if (x < s->base || (uint64_t)(x - s->base) >= s->cells) {
        int r = dense_span(s, x < s->lo ? x : s->lo, x > s->hi ? x : s->hi, s->n + 1);
        if (r)
            return r;
    }
    uint32_t *c = &s->cnt[x - s->base];
    if (mult > UINT32_MAX - *c)
        return 1;
    if (fresh)
        *fresh = !*c;
    if (!*c) {
        s->n++;
        s->vbytes += len;
    }
    *c += (uint32_t)mult;
    if (x < s->lo)
        s->lo = x;
    if (x > s->hi)
        s->hi = x;
    return 0;
}

/* Turns a table of canonical integers into dense counts. 0, or 1 when the set does not
 * qualify (or memory is short: the table stays, which is only slower). */
static int to_dense(dset *s)
{
    uint32_t ns;
    const dentry *e = slots(s, &ns);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint32_t i = 0; i < ns; i++) {
        int64_t x;
        if (!e[i].len1)
            continue;
        if (e[i].mult > UINT32_MAX || canon_int(dval(s, &e[i]), e[i].len1 - 1, &x) != 0)
            return 1;
        if (x < lo)
            lo = x;
        if (x > hi)
            hi = x;
    }
    if (dense_span(s, lo, hi, s->n) != 0)
        return 1;
    for (uint32_t i = 0; i < ns; i++) {
        int64_t x;
        if (e[i].len1 && canon_int(dval(s, &e[i]), e[i].len1 - 1, &x) == 0)
            s->cnt[x - s->base] = (uint32_t)e[i].mult;
    }
    free(s->tab);
    free(s->arena);
    s->tab = NULL;
    s->arena = NULL;
    s->cap = s->used = s->acap = s->dead = 0;
    memset(&s->one, 0, sizeof s->one);
    s->lo = lo;
    s->hi = hi;
    return 0;
}

/* The values of a set in either mode, with their multiplicities and hashes. */
typedef struct dit {
    const dset *s;
    uint64_t i;
    char buf[24];
} dit;

static int dit_next(dit *it, const char **p, size_t *len, uint64_t *mult, uint32_t *h)
{
    const dset *s = it->s;
    if (s->cnt) {
        while (it->i < s->cells && !s->cnt[it->i])
            it->i++;
        if (it->i >= s->cells)
            return 0;
        *len = weir__i64_dec(it->buf, s->base + (int64_t)it->i);
        *p = it->buf;
        *mult = s->cnt[it->i++];
        *h = vhash(*p, *len);
        return 1;
    }
    uint32_t ns;
    const dentry *e = slots(s, &ns);
    while (it->i < ns && !e[it->i].len1)
        it->i++;
    if (it->i >= ns)
        return 0;
    e += it->i++;
    *p = dval(s, e);
    *len = e->len1 - 1;
    *mult = e->mult;
    *h = e->h;
    return 1;
}

static weir_err dset_insert(dset *s, uint32_t h, const char *p, size_t len, uint64_t mult,
                            int *fresh);

/* Dense counts back to a table, for good. WEIR_OK or WEIR_ERR_NOMEM (the set unchanged). */
static weir_err to_hash(dset *s)
{
    dset t;
    memset(&t, 0, sizeof t);
    t.dense_off = 1;
    dit it = {s, 0, {0}};
    const char *p;
    size_t len;
    uint64_t mult;
    uint32_t h;
    while (dit_next(&it, &p, &len, &mult, &h)) {
        if (dset_insert(&t, h, p, len, mult, NULL) != WEIR_OK) {
            free(t.tab);
            free(t.arena);
            return WEIR_ERR_NOMEM;
        }
    }
    free(s->cnt);
    *s = t;
    return WEIR_OK;
}

/* Adds `mult` records of the value (p, len) with hash h. *fresh (may be NULL) tells whether
 * the value is new. Returns WEIR_OK or WEIR_ERR_NOMEM (the set unchanged). */
static weir_err dset_insert(dset *s, uint32_t h, const char *p, size_t len, uint64_t mult,
                            int *fresh)
{
    if (s->cnt) {
        int64_t x;
        if (canon_int(p, len, &x) == 0) {
            int r = dense_add(s, x, len, mult, fresh);
            if (r <= 0)
                return r ? WEIR_ERR_NOMEM : WEIR_OK;
        }
        if (to_hash(s) != WEIR_OK)
            return WEIR_ERR_NOMEM;
    }
    uint64_t v = len <= INLINE_MAX ? pack(p, len) : 0;
    dentry *e = find(s, h, p, len, v);
    if (fresh)
        *fresh = !e;
    if (e) {
        e->mult += mult;
        return WEIR_OK;
    }
    if (len >= UINT32_MAX - 1)
        return WEIR_ERR_NOMEM;
    if (len > INLINE_MAX) {
        if ((uint64_t)s->used + len > UINT32_MAX)
            return WEIR_ERR_NOMEM;
        if (s->used + len > s->acap) {
            uint64_t acap = s->acap ? (uint64_t)s->acap * 2 : 64;
            while (acap < (uint64_t)s->used + len)
                acap *= 2;
            if (acap > UINT32_MAX)
                acap = UINT32_MAX;
            char *a = realloc(s->arena, acap);
            if (!a)
                return WEIR_ERR_NOMEM;
            s->arena = a;
            s->acap = (uint32_t)acap;
        }
    }
    dentry ne = {h, (uint32_t)len + 1, v, mult};
    if (!s->tab && s->n == 0) {
        s->one = ne;
    } else {
        if ((uint64_t)(s->n + 1) * 4 > (uint64_t)s->cap * 3) {
            if (s->n >= DENSE_MIN && !s->dense_off && to_dense(s) == 0)
                return dset_insert(s, h, p, len, mult, fresh);
            if (grow_table(s) != 0)
                return WEIR_ERR_NOMEM;
        }
        if (len > INLINE_MAX)
            ne.v = s->used;
        put(s->tab, s->cap, &ne);
    }
    if (len > INLINE_MAX) {
        if (!s->tab)
            s->one.v = s->used;
        memcpy(s->arena + s->used, p, len);
        s->used += (uint32_t)len;
    }
    s->vbytes += len;
    s->n++;
    return WEIR_OK;
}

/* Moves the values still present to a fresh arena once removed ones take most of it. */
static void compact(dset *s)
{
    char *a = malloc(s->used - s->dead ? s->used - s->dead : 1);
    if (!a)
        return; /* only memory not given back yet */
    uint32_t used = 0, ns;
    dentry *e = (dentry *)slots(s, &ns);
    for (uint32_t i = 0; i < ns; i++) {
        uint32_t len = e[i].len1 - 1;
        if (!e[i].len1 || len <= INLINE_MAX)
            continue;
        memcpy(a + used, s->arena + e[i].v, len);
        e[i].v = used;
        used += len;
    }
    free(s->arena);
    s->arena = a;
    s->used = s->acap = used;
    s->dead = 0;
}

/* Removes entry e (backward-shift deletion: no tombstones). */
static void remove_entry(dset *s, dentry *e)
{
    uint32_t len = e->len1 - 1;
    if (len > INLINE_MAX)
        s->dead += len;
    s->vbytes -= len;
    s->n--;
    if (!s->tab) {
        memset(&s->one, 0, sizeof s->one);
    } else {
        uint32_t m = s->cap - 1, i = (uint32_t)(e - s->tab);
        for (;;) {
            s->tab[i].len1 = 0;
            uint32_t j = i;
            for (;;) {
                j = (j + 1) & m;
                if (!s->tab[j].len1)
                    goto done;
                uint32_t home = s->tab[j].h & m;
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                    break;
            }
            s->tab[i] = s->tab[j];
            i = j;
        }
    }
done:
    if (s->dead > 4096 && s->dead > s->used / 2)
        compact(s);
}

/* Digits (and sign) of the decimal text of x. */
static size_t dec_len(int64_t x)
{
    uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
    size_t n = 1 + (x < 0);
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

static weir_err dset_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    dset *s = state;
    /* Dense counts take an integer as it is: no text, no hash. The bounds are those of
     * canon_int (at most 18 digits), so that 7 and "7" still land on one count. */
    if (s->cnt && v && v->type == WEIR_VALUE_INT && v->u.i > -1000000000000000000 &&
        v->u.i < 1000000000000000000) {
        int rc = dense_add(s, v->u.i, dec_len(v->u.i), 1, NULL);
        if (rc <= 0)
            return rc ? WEIR_ERR_NOMEM : WEIR_OK;
    }
    char buf[24];
    const char *p;
    size_t len;
    if (weir__distinct_text(v, buf, &p, &len) != 0)
        return WEIR_OK;
    return dset_insert(state, vhash(p, len), p, len, 1, NULL);
}

static weir_err dset_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    dit it = {src, 0, {0}};
    const char *p;
    size_t len;
    uint64_t mult;
    uint32_t h;
    while (dit_next(&it, &p, &len, &mult, &h)) {
        weir_err rc = dset_insert(dst, h, p, len, mult, NULL);
        if (rc != WEIR_OK)
            return rc;
    }
    return WEIR_OK;
}

/* Dense mode: takes `mult` records of (p, len) out; a value the set does not count is
 * left alone. */
static void dense_remove(dset *a, const char *p, size_t len, uint64_t mult)
{
    int64_t x;
    if (canon_int(p, len, &x) != 0 || x < a->base || (uint64_t)(x - a->base) >= a->cells)
        return;
    uint32_t *c = &a->cnt[x - a->base];
    if (!*c)
        return;
    if (*c > mult) {
        *c -= (uint32_t)mult;
    } else {
        *c = 0;
        a->n--;
        a->vbytes -= len;
    }
}

/* dst := dst without src's records; src's values are all in dst with at least their
 * multiplicities (src was merged into dst, or its records added to both). */
static weir_err dset_unmerge(void *dst, const void *src, const void *params)
{
    (void)params;
    dset *a = dst;
    const dset *b = src;
    if (a->cnt || b->cnt) {
        dit it = {b, 0, {0}};
        const char *p;
        size_t len;
        uint64_t mult;
        uint32_t h;
        while (dit_next(&it, &p, &len, &mult, &h)) {
            if (a->cnt) {
                dense_remove(a, p, len, mult);
                continue;
            }
            dentry *x = find(a, h, p, len, len <= INLINE_MAX ? pack(p, len) : 0);
            if (!x)
                continue;
            if (x->mult > mult)
                x->mult -= mult;
            else
                remove_entry(a, x);
        }
        return WEIR_OK;
    }
    uint32_t ns;
    const dentry *e = slots(b, &ns);
    if (a->tab && ns > 1) {
        /* The home slots of src's values in dst, read first in a pass of independent loads:
         * their cache misses (dst is a window's large set) overlap, where the probes below,
         * each depending on the one before, would take them one by one. */
        uint32_t acc = 0, m = a->cap - 1;
        for (uint32_t i = 0; i < ns; i++)
            if (e[i].len1)
                acc += a->tab[e[i].h & m].len1;
        __asm__ volatile("" : : "r"(acc));
    }
    for (uint32_t i = 0; i < ns; i++) {
        if (!e[i].len1)
            continue;
        const char *p = dval(b, &e[i]);
        size_t len = e[i].len1 - 1;
        dentry *x = find(a, e[i].h, p, len, len <= INLINE_MAX ? e[i].v : 0);
        if (!x)
            continue;
        if (x->mult > e[i].mult)
            x->mult -= e[i].mult;
        else
            remove_entry(a, x);
    }
    return WEIR_OK;
}

static weir_err dset_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    out->type = WEIR_VALUE_INT;
    out->u.i = ((dset *)state)->n;
    return WEIR_OK;
}

static size_t dset_size(const void *state, const void *params)
{
    (void)params;
    const dset *s = state;
    return 4 + (size_t)s->n * 4 + (size_t)s->vbytes;
}

static size_t dset_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    const dset *s = state;
    uint8_t *p = out;
    weir__put_le32(p, s->n);
    p += 4;
    dit it = {s, 0, {0}};
    const char *v;
    size_t len;
    uint64_t mult;
    uint32_t h;
    while (dit_next(&it, &v, &len, &mult, &h)) {
        weir__put_le32(p, (uint32_t)len);
        memcpy(p + 4, v, len);
        p += 4 + len;
    }
    return (size_t)(p - out);
}

static void dset_free(void *state, const void *params)
{
    (void)params;
    dset *s = state;
    free(s->tab);
    free(s->arena);
    free(s->cnt);
    memset(s, 0, sizeof *s);
}

static weir_err dset_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    dset *s = state;
    memset(s, 0, sizeof *s);
    if (len < 4)
        return WEIR_ERR_CORRUPT;
    uint32_t n = weir__get_le32(in);
    size_t pos = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (len - pos < 4 || len - pos - 4 < weir__get_le32(in + pos)) {
            dset_free(s, params);
            return WEIR_ERR_CORRUPT;
        }
        uint32_t l = weir__get_le32(in + pos);
        const char *p = (const char *)in + pos + 4;
        int fresh = 0;
        weir_err rc = dset_insert(s, vhash(p, l), p, l, 1, &fresh);
        if (rc == WEIR_OK && !fresh)
            rc = WEIR_ERR_CORRUPT; /* a value written twice */
        if (rc != WEIR_OK) {
            dset_free(s, params);
            return rc;
        }
        pos += 4 + (size_t)l;
    }
    if (pos != len) {
        dset_free(s, params);
        return WEIR_ERR_CORRUPT;
    }
    return WEIR_OK;
}

static size_t dset_heap(const void *state, const void *params)
{
    (void)params;
    const dset *s = state;
    return (size_t)s->cap * sizeof(dentry) + s->acap + (size_t)s->cells * sizeof(uint32_t);
}

const weir_gagg_ops weir_gagg_count_distinct = {
    .name = "count_distinct",
    .state_size = sizeof(dset),
    .init = dset_init,
    .add = dset_add,
    .merge = dset_merge,
    .result = dset_result,
    .serialized_size = dset_size,
    .serialize = dset_serialize,
    .deserialize = dset_deserialize,
    .free = dset_free,
    .heap_bytes = dset_heap,
    .unmerge = dset_unmerge,
};

/* ---------------------------------------------------------------- approximate */

static weir_err hll_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    char buf[24];
    const char *p;
    size_t len;
    if (weir__distinct_text(v, buf, &p, &len) != 0)
        return WEIR_OK;
    return weir_hll_add(state, XXH3_64bits(p, len));
}

static weir_err hll_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    double e = weir_hll_estimate(state);
    out->type = WEIR_VALUE_INT;
    out->u.i = e < 0x1p62 ? (int64_t)llround(e) : INT64_MAX;
    return WEIR_OK;
}

const weir_gagg_ops weir_gagg_approx_count_distinct = {
    .name = "approx_count_distinct",
    .state_size = WEIR_HLL_EMBED_SIZE,
    .init = weir__hll_state_init,
    .add = hll_add,
    .merge = weir__hll_state_merge,
    .result = hll_result,
    .serialized_size = weir__hll_state_size,
    .serialize = weir__hll_state_serialize,
    .deserialize = weir__hll_state_deserialize,
    .free = weir__hll_state_free,
    .heap_bytes = weir__hll_state_heap,
};
