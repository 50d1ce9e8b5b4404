/* The HyperLogLog aggregates' shared table functions (hll_state_int.h): one home for the
 * embedded sketch's life cycle and serialization. */
#include "operators/hll_state_int.h"
#include "weir/hll.h"

int weir__hll_state_precision(const void *params)
{
    if (!params)
        return WEIR_HLL_P_DEFAULT;
    int p = *(const int *)params;
    return p < WEIR_HLL_P_MIN ? WEIR_HLL_P_MIN : p > WEIR_HLL_P_MAX ? WEIR_HLL_P_MAX : p;
}

void weir__hll_state_init(void *state, const void *params)
{
    weir_hll_embed_init(state, weir__hll_state_precision(params));
}

weir_err weir__hll_state_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    return weir_hll_merge(dst, src);
}

size_t weir__hll_state_size(const void *state, const void *params)
{
    (void)params;
    return weir_hll_serialized_size(state);
}

size_t weir__hll_state_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    return weir_hll_serialize(state, out, weir_hll_serialized_size(state));
}

weir_err weir__hll_state_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    weir_hll *h = weir_hll_embed_init(state, weir__hll_state_precision(params));
    weir_err rc = weir_hll_deserialize_into(h, in, len);
    if (rc == WEIR_OK)
        return WEIR_OK;
    weir_hll_embed_fini(h);
    return rc == WEIR_ERR_NOMEM ? WEIR_ERR_NOMEM : WEIR_ERR_CORRUPT;
}

void weir__hll_state_free(void *state, const void *params)
{
    (void)params;
    weir_hll_embed_fini(state);
}

size_t weir__hll_state_heap(const void *state, const void *params)
{
    (void)params;
    return weir_hll_heap_bytes(state);
}
