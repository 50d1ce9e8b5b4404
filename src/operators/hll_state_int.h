/* The table functions both HyperLogLog aggregates share (agg_hll.c for unique-users'
 * operator, gagg_distinct.c's approx_count_distinct): a sketch embedded in the aggregate's
 * inline state. Only the add and the result differ between them. */
#ifndef WEIR_OPERATORS_HLL_STATE_INT_H
#define WEIR_OPERATORS_HLL_STATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"

/* The precision `params` (a `const int *`, or NULL for WEIR_HLL_P_DEFAULT) asks for,
 * clamped into WEIR_HLL_P_MIN..WEIR_HLL_P_MAX: init() must not fail, and jobs validate the
 * precision where it is configured. */
int weir__hll_state_precision(const void *params);

void weir__hll_state_init(void *state, const void *params);
weir_err weir__hll_state_merge(void *dst, const void *src, const void *params);
size_t weir__hll_state_size(const void *state, const void *params);
size_t weir__hll_state_serialize(const void *state, uint8_t *out, const void *params);
/* The stored precision wins over the configured one: a sketch cannot gain precision, and
 * folding it down would lose what a later reader configured higher might want. Returns
 * WEIR_OK, WEIR_ERR_CORRUPT or WEIR_ERR_NOMEM, leaving nothing allocated on error. */
weir_err weir__hll_state_deserialize(void *state, const uint8_t *in, size_t len,
                                     const void *params);
void weir__hll_state_free(void *state, const void *params);
size_t weir__hll_state_heap(const void *state, const void *params);

#endif
