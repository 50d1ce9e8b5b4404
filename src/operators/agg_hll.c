/* Approximate distinct counting: a HyperLogLog sketch (src/operators/hll.c) of each
 * record's value fingerprint, embedded in the aggregate's 64 bytes of inline state. */
#include <math.h>
#include <stdint.h>

#include "weir/aggregate.h"
#include "weir/hll.h"

/*
 * The inline state is the sketch itself (WEIR_HLL_EMBED_SIZE bytes): its first 14
 * distinct values need no allocation, so the many (key, window) pairs with a handful of
 * users cost 64 bytes each. The hash is the first word of the value's XXH3-128
 * fingerprint, computed once at decoding.
 *
 * init() must not fail, so a precision outside 4..18 is clamped into that range; jobs
 * validate the precision where it is configured.
 */

static int precision(const void *params)
{
    if (!params)
        return WEIR_HLL_P_DEFAULT;
    int p = *(const int *)params;
    if (p < WEIR_HLL_P_MIN)
        return WEIR_HLL_P_MIN;
    if (p > WEIR_HLL_P_MAX)
        return WEIR_HLL_P_MAX;
    return p;
}

static void hll_init(void *state, const void *params)
{
    weir_hll_embed_init(state, precision(params));
}

static weir_err hll_add(void *state, const weir_agg_input *in, const void *params)
{
    (void)params;
    return weir_hll_add(state, in->event->user_fp[0]);
}

static weir_err hll_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    return weir_hll_merge(dst, src);
}

static uint64_t hll_result(void *state, const void *params)
{
    (void)params;
    double e = weir_hll_estimate(state);
    return e < 0x1p63 ? (uint64_t)llround(e) : UINT64_MAX;
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

/* The stored precision wins over the configured one: a sketch cannot gain precision, and
 * folding it down would lose what a later reader configured higher might want. */
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

const weir_agg_ops weir_agg_distinct_hll = {
    .name = "distinct_hll",
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
