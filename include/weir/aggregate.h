/* The aggregate interface: what a window keeps per key, and the built-in aggregates. */
#ifndef WEIR_AGGREGATE_H
#define WEIR_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"
#include "weir/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an aggregate sees of one accepted record. */
typedef struct weir_agg_input {
    const weir_event *event;
    uint32_t dense_id; /* the distinct value's id in its window's dictionary, when
                          the aggregate asked for one (WEIR_AGG_NEEDS_DENSE_ID) */
} weir_agg_input;

#define WEIR_AGG_NEEDS_DENSE_ID 1u

/*
 * An aggregate is a table of functions over a fixed-size state that the window
 * operator stores inline for every (key, window). A data engineer adds one by
 * filling this table; the operator does not change.
 *
 * All functions are called from the pipeline's thread only. `params` is the
 * pointer given in the weir_agg_spec, passed through unchanged.
 */
typedef struct weir_agg_ops {
    const char *name;  /* short unique name, stored in snapshots ("count", "distinct_exact") */
    size_t state_size; /* bytes of inline state, at most 256 */
    unsigned flags;    /* WEIR_AGG_NEEDS_DENSE_ID or 0 */
    /* Sets up an empty state in zeroed memory. Must not fail. */
    void (*init)(void *state, const void *params);
    /* Adds one record. Returns WEIR_OK or WEIR_ERR_NOMEM. */
    weir_err (*add)(void *state, const weir_agg_input *in, const void *params);
    /* dst := dst merged with src. Optional (NULL): returns WEIR_ERR_UNSUPPORTED. */
    weir_err (*merge)(void *dst, const void *src, const void *params);
    /* The current result (a count, an estimate). May reorganise internal buffers. */
    uint64_t (*result)(void *state, const void *params);
    /* Bytes serialize() will write. */
    size_t (*serialized_size)(const void *state, const void *params);
    /* Writes the state, endian-independent; returns bytes written. */
    size_t (*serialize)(const void *state, uint8_t *out, const void *params);
    /* Reads a state written by serialize() into zeroed memory, validating every
     * byte: returns WEIR_ERR_CORRUPT (leaving nothing allocated) on bad input. */
    weir_err (*deserialize)(void *state, const uint8_t *in, size_t len, const void *params);
    /* Frees what the state owns (not the inline memory itself). */
    void (*free)(void *state, const void *params);
    /* Heap bytes owned by the state beyond state_size, for memory accounting. */
    size_t (*heap_bytes)(const void *state, const void *params);
    /* Makes zeroed dst a copy of src in which every dense id is replaced by
     * map[id] (map has n entries): a snapshot numbers a window's dictionary afresh
     * (sorted, so that it compresses) and writes the sets through the new numbering.
     * With map NULL it only checks that every id of src is below n, leaving dst
     * zeroed: a restore checks every set against its dictionary so. src is not
     * changed. Required with WEIR_AGG_NEEDS_DENSE_ID for weir_window_op_snapshot (which
     * otherwise returns WEIR_ERR_UNSUPPORTED); NULL for other aggregates. Returns
     * WEIR_OK; WEIR_ERR_CORRUPT when src holds an id >= n; WEIR_ERR_NOMEM. On an error
     * dst owns nothing; otherwise the caller releases it with free(). */
    weir_err (*renumber)(void *dst, const void *src, const uint32_t *map, uint32_t n,
                         const void *params);
} weir_agg_ops;

/* An aggregate as configured in an operator: its ops, the output field name
 * ("unique_user_count") and its parameters (owned by the caller, must outlive
 * the operator). */
typedef struct weir_agg_spec {
    const weir_agg_ops *ops;
    const char *field;
    const void *params;
} weir_agg_spec;

/* Counts records. */
extern const weir_agg_ops weir_agg_count;
/* Exact count of distinct values: a CRoaring bitmap over the window's dense ids,
 * small sets kept inline. */
extern const weir_agg_ops weir_agg_distinct_exact;
/* Approximate count of distinct values with a HyperLogLog sketch over the value's
 * fingerprint; params: a `const int *` precision (4..18), NULL for 14. */
extern const weir_agg_ops weir_agg_distinct_hll;

#ifdef __cplusplus
}
#endif
#endif
