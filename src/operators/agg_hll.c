/* Approximate distinct counting: a HyperLogLog sketch (src/operators/hll.c) of each
 * record's value fingerprint, embedded in the aggregate's 64 bytes of inline state. */
#include <math.h>
#include <stdint.h>

#include "operators/hll_state_int.h"
#include "weir/aggregate.h"
#include "weir/hll.h"

/*
 * The inline state is the sketch itself (WEIR_HLL_EMBED_SIZE bytes): its first 14
 * distinct values need no allocation, so the many (key, window) pairs with a handful of
 * users cost 64 bytes each. The hash is the first word of the value's XXH3-128
 * fingerprint, computed once at decoding.
 *
 * The functions other than add and result are shared with approx_count_distinct
 * (hll_state.c).
 */

static weir_err hll_add(void *state, const weir_agg_input *in, const void *params)
{
    (void)params;
    return weir_hll_add(state, in->event->user_fp[0]);
}

static uint64_t hll_result(void *state, const void *params)
{
    (void)params;
    double e = weir_hll_estimate(state);
    return e < 0x1p63 ? (uint64_t)llround(e) : UINT64_MAX;
}

const weir_agg_ops weir_agg_distinct_hll = {
    .name = "distinct_hll",
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
