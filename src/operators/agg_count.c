/* The count aggregate: records per (key, window). */
#include <string.h>

#include "state/bytes.h"
#include "weir/aggregate.h"

static void count_init(void *state, const void *params)
{
    (void)params;
    memset(state, 0, sizeof(uint64_t));
}

static weir_err count_add(void *state, const weir_agg_input *in, const void *params)
{
    (void)in;
    (void)params;
    ++*(uint64_t *)state;
    return WEIR_OK;
}

static weir_err count_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    *(uint64_t *)dst += *(const uint64_t *)src;
    return WEIR_OK;
}

static uint64_t count_result(void *state, const void *params)
{
    (void)params;
    return *(uint64_t *)state;
}

static size_t count_size(const void *state, const void *params)
{
    (void)state;
    (void)params;
    return 8;
}

static size_t count_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    weir__put_le64(out, *(const uint64_t *)state);
    return 8;
}

static weir_err count_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    (void)params;
    if (len != 8)
        return WEIR_ERR_CORRUPT;
    *(uint64_t *)state = weir__get_le64(in);
    return WEIR_OK;
}

static void count_free(void *state, const void *params)
{
    (void)state;
    (void)params;
}

static size_t count_heap(const void *state, const void *params)
{
    (void)state;
    (void)params;
    return 0;
}

const weir_agg_ops weir_agg_count = {
    .name = "count",
    .state_size = sizeof(uint64_t),
    .init = count_init,
    .add = count_add,
    .merge = count_merge,
    .result = count_result,
    .serialized_size = count_size,
    .serialize = count_serialize,
    .deserialize = count_deserialize,
    .free = count_free,
    .heap_bytes = count_heap,
};
