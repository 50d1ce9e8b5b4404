/* The built-in aggregates' states, for the window operator's inline adds (the common case
 * of an add, without a call through the aggregate's table). */
#ifndef WEIR_OPERATORS_AGG_INT_H
#define WEIR_OPERATORS_AGG_INT_H

#include <stdint.h>

#include "weir/aggregate.h"

/* weir_agg_count's state: the records added. */
static inline void weir__count_add(void *state)
{
    ++*(uint64_t *)state;
}

#define WEIR__DISTINCT_SMALL 12

enum { WEIR__DISTINCT_INLINE = 0, WEIR__DISTINCT_ARRAY = 1, WEIR__DISTINCT_BITMAP = 2 };

/* weir_agg_distinct_exact's state (agg_distinct.c tells the tiers). 56 bytes, so that a
 * key's entry in the window (with the count) stays 96 bytes. */
typedef struct weir__distinct_state {
    uint32_t n;   /* inline ids, or sorted ids of the array tier; 0 in the bitmap tier */
    uint32_t cap; /* buffer capacity in ids; 0 while inline */
    union {
        uint32_t ids[WEIR__DISTINCT_SMALL];
        struct {
            uint32_t np; /* pending ids */
            uint32_t tier;
            uint32_t *buf; /* array: n sorted, then np pending; bitmap: np pending */
            struct roaring_bitmap_s *bm;
        } h;
    } u;
} weir__distinct_state;

_Static_assert(sizeof(weir__distinct_state) == 56, "the distinct state is meant to be 56 bytes");

/* The add of most records: `id` appended to the pending run of a set in the array or
 * bitmap tier, when the run has room. Returns 1 when done, 0 when the aggregate's own
 * add must run (a set still inline, or a full run to merge). */
static inline int weir__distinct_append(void *state, uint32_t id)
{
    weir__distinct_state *s = state;
    if (!s->cap)
        return 0;
    uint32_t used = s->n + s->u.h.np;
    if (used == s->cap)
        return 0;
    s->u.h.buf[used] = id;
    s->u.h.np++;
    return 1;
}

/* Adds ids v[0..n) (any order, maybe repeated) to a weir_agg_distinct_exact state, as
 * many adds would: the window operator's batches. Returns WEIR_OK, or WEIR_ERR_NOMEM with
 * some of the ids added (adding them all again later is harmless). */
weir_err weir__distinct_add_many(void *state, const uint32_t *v, uint32_t n);

#endif
