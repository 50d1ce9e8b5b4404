/* Exact distinct counting: a CRoaring bitmap of the window's dense ids, small sets inline. */
#include <roaring/containers/containers.h>
#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

#include "state/bytes.h"
#include "weir/aggregate.h"

/*
 * Most (key, window) sets are small, and a roaring bitmap costs some hundred
 * bytes before its first value, so the first SMALL ids live inline, deduplicated.
 * Once a set outgrows that, the inline array becomes a buffer of pending ids that
 * are added to the bitmap SMALL at a time: one bitmap access (a likely cache
 * miss) then serves many records.
 *
 * Serialized form: u8 tag (0 inline, 1 bitmap), then for inline u8 n and n
 * little-endian u32 ids, for a bitmap u32 length and roaring's portable format.
 */
#define SMALL 12

typedef struct distinct_state {
    roaring_bitmap_t *bm; /* NULL while the set is inline */
    uint32_t n;           /* inline ids, or pending ids once bm exists */
    uint32_t ids[SMALL];
} distinct_state;

static void flush_pending(distinct_state *s)
{
    if (s->bm && s->n) {
        roaring_bitmap_add_many(s->bm, s->n, s->ids);
        s->n = 0;
    }
}

static void d_init(void *state, const void *params)
{
    (void)params;
    memset(state, 0, sizeof(distinct_state));
}

static weir_err d_add(void *state, const weir_agg_input *in, const void *params)
{
    (void)params;
    distinct_state *s = state;
    uint32_t id = in->dense_id;
    if (!s->bm) {
        for (uint32_t i = 0; i < s->n; i++)
            if (s->ids[i] == id)
                return WEIR_OK;
        if (s->n < SMALL) {
            s->ids[s->n++] = id;
            return WEIR_OK;
        }
        s->bm = roaring_bitmap_create();
        if (!s->bm)
            return WEIR_ERR_NOMEM;
        roaring_bitmap_add_many(s->bm, s->n, s->ids);
        s->n = 0;
    }
    if (s->n == SMALL)
        flush_pending(s);
    s->ids[s->n++] = id;
    return WEIR_OK;
}

static weir_err d_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    distinct_state *d = dst;
    const distinct_state *s = src;
    /* Both sets must come from the same dictionary for ids to mean the same values. */
    if (!d->bm) {
        d->bm = roaring_bitmap_create();
        if (!d->bm)
            return WEIR_ERR_NOMEM;
        roaring_bitmap_add_many(d->bm, d->n, d->ids);
        d->n = 0;
    }
    flush_pending(d);
    if (s->bm)
        roaring_bitmap_or_inplace(d->bm, s->bm);
    roaring_bitmap_add_many(d->bm, s->n, s->ids);
    return WEIR_OK;
}

static uint64_t d_result(void *state, const void *params)
{
    (void)params;
    distinct_state *s = state;
    if (!s->bm)
        return s->n;
    flush_pending(s);
    return roaring_bitmap_get_cardinality(s->bm);
}

static size_t d_size(const void *state, const void *params)
{
    (void)params;
    distinct_state *s = (distinct_state *)state;
    if (!s->bm)
        return 2 + 4 * (size_t)s->n;
    flush_pending(s); /* pending ids are part of the set: the serialized size includes them */
    return 5 + roaring_bitmap_portable_size_in_bytes(s->bm);
}

static size_t d_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    distinct_state *s = (distinct_state *)state;
    if (!s->bm) {
        out[0] = 0;
        out[1] = (uint8_t)s->n;
        for (uint32_t i = 0; i < s->n; i++)
            weir__put_le32(out + 2 + 4 * i, s->ids[i]);
        return 2 + 4 * (size_t)s->n;
    }
    flush_pending(s);
    out[0] = 1;
    size_t len = roaring_bitmap_portable_serialize(s->bm, (char *)out + 5);
    weir__put_le32(out + 1, (uint32_t)len);
    return 5 + len;
}

static weir_err d_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    (void)params;
    distinct_state *s = state;
    memset(s, 0, sizeof *s);
    if (len < 2)
        return WEIR_ERR_CORRUPT;
    if (in[0] == 0) {
        uint32_t n = in[1];
        if (n > SMALL || len != 2 + 4 * (size_t)n)
            return WEIR_ERR_CORRUPT;
        for (uint32_t i = 0; i < n; i++) {
            s->ids[i] = weir__get_le32(in + 2 + 4 * i);
            for (uint32_t j = 0; j < i; j++)
                if (s->ids[j] == s->ids[i])
                    return WEIR_ERR_CORRUPT;
        }
        s->n = n;
        return WEIR_OK;
    }
    if (in[0] != 1 || len < 5)
        return WEIR_ERR_CORRUPT;
    uint32_t blen = weir__get_le32(in + 1);
    if (blen != len - 5)
        return WEIR_ERR_CORRUPT;
    roaring_bitmap_t *bm = roaring_bitmap_portable_deserialize_safe((const char *)in + 5, blen);
    if (!bm)
        return WEIR_ERR_CORRUPT;
    if (roaring_bitmap_portable_size_in_bytes(bm) != blen) {
        roaring_bitmap_free(bm);
        return WEIR_ERR_CORRUPT;
    }
    s->bm = bm;
    return WEIR_OK;
}

static void d_free(void *state, const void *params)
{
    (void)params;
    distinct_state *s = state;
    if (s->bm)
        roaring_bitmap_free(s->bm);
    s->bm = NULL;
}

/* glibc's malloc adds about this much to every allocation (header and rounding). */
#define MALLOC_OVERHEAD 16

static size_t d_heap(const void *state, const void *params)
{
    (void)params;
    const distinct_state *s = state;
    if (!s->bm)
        return 0;
    /* Walk the containers: the bitmap's arrays (key, pointer, type per slot) and each
     * container's struct and payload, as CRoaring 0.2 lays them out. */
    const roaring_array_t *ra = &s->bm->high_low_container;
    size_t bytes = sizeof(roaring_bitmap_t) + MALLOC_OVERHEAD +
                   (size_t)ra->allocation_size * (sizeof(void *) + sizeof(uint16_t) + 1) +
                   MALLOC_OVERHEAD;
    for (int32_t i = 0; i < ra->size; i++) {
        const void *c = ra->containers[i];
        switch (ra->typecodes[i]) {
        case ARRAY_CONTAINER_TYPE_CODE:
            bytes += sizeof(array_container_t) +
                     (size_t)((const array_container_t *)c)->capacity * sizeof(uint16_t);
            break;
        case RUN_CONTAINER_TYPE_CODE:
            bytes += sizeof(run_container_t) +
                     (size_t)((const run_container_t *)c)->capacity * sizeof(rle16_t);
            break;
        default: /* bitset, or shared (not made here) */
            bytes += sizeof(bitset_container_t) + 8192;
            break;
        }
        bytes += 2 * MALLOC_OVERHEAD;
    }
    return bytes;
}

const weir_agg_ops weir_agg_distinct_exact = {
    .name = "distinct_exact",
    .state_size = sizeof(distinct_state),
    .flags = WEIR_AGG_NEEDS_DENSE_ID | WEIR_AGG_DEFERRABLE,
    .init = d_init,
    .add = d_add,
    .merge = d_merge,
    .result = d_result,
    .serialized_size = d_size,
    .serialize = d_serialize,
    .deserialize = d_deserialize,
    .free = d_free,
    .heap_bytes = d_heap,
};
