/* Distinct counting over any field: exact (a set of the values' bytes) and approximate
 * (a HyperLogLog sketch, weir/hll.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "operators/gagg_int.h"
#include "weir/gagg.h"
#include "weir/hll.h"

/*
 * The exact set keeps each value's bytes once in an arena and an open-addressing table of
 * (hash, offset, length) entries at most half full; an empty set owns nothing. Values are
 * compared by their bytes, so the count is exact whatever the hash does.
 *
 * Serialized form, little-endian: u32 count, then per value u32 length and its bytes.
 */
typedef struct dentry {
    uint64_t hash;
    uint32_t off;
    uint32_t len1; /* length + 1; 0 marks an empty slot */
} dentry;

typedef struct dset {
    dentry *tab;
    char *arena;
    uint32_t n, cap; /* values, slots (a power of two, or 0) */
    uint32_t used, acap;
} dset;

_Static_assert(sizeof(dset) <= WEIR_GAGG_STATE_MAX, "the set fits inline");

static void dset_init(void *state, const void *params)
{
    (void)params;
    memset(state, 0, sizeof(dset));
}

static int grow_table(dset *s)
{
    uint32_t cap = s->cap ? s->cap * 2 : 8;
    if (cap == 0 || cap > (1u << 30))
        return -1;
    dentry *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (uint32_t i = 0; i < s->cap; i++) {
        if (!s->tab[i].len1)
            continue;
        uint32_t j = (uint32_t)s->tab[i].hash & (cap - 1);
        while (t[j].len1)
            j = (j + 1) & (cap - 1);
        t[j] = s->tab[i];
    }
    free(s->tab);
    s->tab = t;
    s->cap = cap;
    return 0;
}

/* Inserts the value (ptr, len) of hash h. Returns WEIR_OK or WEIR_ERR_NOMEM (unchanged). */
static weir_err dset_insert(dset *s, uint64_t h, const char *ptr, size_t len)
{
    if (s->cap) {
        uint32_t j = (uint32_t)h & (s->cap - 1);
        for (; s->tab[j].len1; j = (j + 1) & (s->cap - 1))
            if (s->tab[j].hash == h && s->tab[j].len1 == len + 1 &&
                memcmp(s->arena + s->tab[j].off, ptr, len) == 0)
                return WEIR_OK;
    }
    if (len >= UINT32_MAX - 1 || (uint64_t)s->used + len > UINT32_MAX)
        return WEIR_ERR_NOMEM;
    if ((s->n + 1) * 2 > s->cap && grow_table(s) != 0)
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
    uint32_t j = (uint32_t)h & (s->cap - 1);
    while (s->tab[j].len1)
        j = (j + 1) & (s->cap - 1);
    if (len)
        memcpy(s->arena + s->used, ptr, len);
    s->tab[j] = (dentry){h, s->used, (uint32_t)len + 1};
    s->used += (uint32_t)len;
    s->n++;
    return WEIR_OK;
}

static weir_err dset_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    char buf[24];
    const char *p;
    size_t len;
    if (weir__distinct_text(v, buf, &p, &len) != 0)
        return WEIR_OK;
    return dset_insert(state, XXH3_64bits(p, len), p, len);
}

static weir_err dset_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    const dset *b = src;
    for (uint32_t i = 0; i < b->cap; i++) {
        const dentry *e = &b->tab[i];
        if (!e->len1)
            continue;
        weir_err rc = dset_insert(dst, e->hash, b->arena + e->off, e->len1 - 1);
        if (rc != WEIR_OK)
            return rc;
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
    return 4 + (size_t)s->n * 4 + s->used;
}

static size_t dset_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    const dset *s = state;
    uint8_t *p = out;
    weir__put_le32(p, s->n);
    p += 4;
    for (uint32_t i = 0; i < s->cap; i++) {
        const dentry *e = &s->tab[i];
        if (!e->len1)
            continue;
        weir__put_le32(p, e->len1 - 1);
        memcpy(p + 4, s->arena + e->off, e->len1 - 1);
        p += 4 + e->len1 - 1;
    }
    return (size_t)(p - out);
}

static void dset_free(void *state, const void *params)
{
    (void)params;
    dset *s = state;
    free(s->tab);
    free(s->arena);
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
        uint32_t before = s->n;
        weir_err rc = dset_insert(s, XXH3_64bits(p, l), p, l);
        if (rc == WEIR_OK && s->n == before)
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
    return (size_t)s->cap * sizeof(dentry) + s->acap;
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
};

/* ---------------------------------------------------------------- approximate */

/* init() must not fail, so a precision outside 4..18 is clamped into that range; jobs
 * validate the precision where it is configured. */
static int precision(const void *params)
{
    if (!params)
        return WEIR_HLL_P_DEFAULT;
    int p = *(const int *)params;
    return p < WEIR_HLL_P_MIN ? WEIR_HLL_P_MIN : p > WEIR_HLL_P_MAX ? WEIR_HLL_P_MAX : p;
}

static void hll_init(void *state, const void *params)
{
    weir_hll_embed_init(state, precision(params));
}

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

static weir_err hll_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    return weir_hll_merge(dst, src);
}

static weir_err hll_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    double e = weir_hll_estimate(state);
    out->type = WEIR_VALUE_INT;
    out->u.i = e < 0x1p62 ? (int64_t)llround(e) : INT64_MAX;
    return WEIR_OK;
}

static size_t hll_size(const void *state, const void *params)
{
    (void)params;
    return weir_hll_serialized_size(state);
}

static size_t hll_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    return weir_hll_serialize(state, out, weir_hll_serialized_size(state));
}

static weir_err hll_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    weir_hll *h = weir_hll_embed_init(state, precision(params));
    weir_err rc = weir_hll_deserialize_into(h, in, len);
    if (rc == WEIR_OK)
        return WEIR_OK;
    weir_hll_embed_fini(h);
    return rc == WEIR_ERR_NOMEM ? WEIR_ERR_NOMEM : WEIR_ERR_CORRUPT;
}

static void hll_free(void *state, const void *params)
{
    (void)params;
    weir_hll_embed_fini(state);
}

static size_t hll_heap(const void *state, const void *params)
{
    (void)params;
    return weir_hll_heap_bytes(state);
}

const weir_gagg_ops weir_gagg_approx_count_distinct = {
    .name = "approx_count_distinct",
    .state_size = WEIR_HLL_EMBED_SIZE,
    .init = hll_init,
    .add = hll_add,
    .merge = hll_merge,
    .result = hll_result,
    .serialized_size = hll_size,
    .serialize = hll_serialize,
    .deserialize = hll_deserialize,
    .free = hll_free,
    .heap_bytes = hll_heap,
};
