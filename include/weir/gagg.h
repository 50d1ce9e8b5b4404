/* Typed aggregates over any field of a record: the interface of the generic window operator
 * (weir/gwindow.h) and its built-ins (docs/SEMANTICS.md, "Keys, filters and aggregates"). */
#ifndef WEIR_GAGG_H
#define WEIR_GAGG_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"
#include "weir/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest inline state an aggregate may ask for (weir_gagg_ops.state_size). */
#define WEIR_GAGG_STATE_MAX 256

/*
 * A typed aggregate: a table of functions over a fixed-size state that the operator stores
 * inline for every (key, slice) of tumbling and hopping windows and every (key, session). A
 * data engineer adds one (a top-k, a percentile) by filling this table; the operator does not
 * change. All functions are called from the thread that calls the operator. `params` is the
 * weir_gagg_def's params, passed through unchanged.
 *
 * Which functions are required (weir_gwindow_new fails with WEIR_ERR_INVALID_ARG and an errstr
 * naming the aggregate and the missing function otherwise):
 * - always: name, init, add, result, and 0 < state_size <= WEIR_GAGG_STATE_MAX;
 * - merge: for hopping windows (slices are combined when a window fires) and session windows
 *   (sessions merge); tumbling windows never call it;
 * - serialized_size, serialize, deserialize: all three or none; without them
 *   weir_gwindow_snapshot returns WEIR_ERR_UNSUPPORTED;
 * - free, heap_bytes: optional (NULL: the state owns no heap memory);
 * - unmerge: optional, used by hopping windows only. With it, each key keeps a running state
 *   of the window that fires next, which slices enter (merge) and leave (unmerge), so a
 *   firing costs O(1) whatever W/S is; without it, a firing merges the window's W/S slices.
 *   Give it only to an aggregate whose merge it undoes exactly (a count, a multiset), never
 *   to one whose result depends on the order of merges (a floating-point sum).
 */
typedef struct weir_gagg_ops {
    const char *name;  /* short name, stored in snapshots ("sum", "top3") */
    size_t state_size; /* bytes of inline state, 1..WEIR_GAGG_STATE_MAX, aligned for 8 bytes */
    /* Sets up an empty state in zeroed memory. Must not fail. */
    void (*init)(void *state, const void *params);
    /* Adds one record that passed the def's where filter: `v` is its value of the def's
     * field, or NULL when the def has no field (field -1); `r` is the whole record. Returns
     * WEIR_OK or WEIR_ERR_NOMEM (the state is then unchanged and still valid). */
    weir_err (*add)(void *state, const weir_value *v, const weir_row *r, const void *params);
    /* dst := dst merged with src (src unchanged), as if dst's records had been added and
     * then src's. Returns WEIR_OK or WEIR_ERR_NOMEM (dst stays valid). */
    weir_err (*merge)(void *dst, const void *src, const void *params);
    /* The current result in *out: WEIR_VALUE_INT, WEIR_VALUE_DOUBLE or WEIR_VALUE_NULL, or
     * WEIR_VALUE_STRING whose bytes the state owns, valid until the next call on the state.
     * May reorganise the state's buffers, never its meaning. Returns WEIR_OK or
     * WEIR_ERR_NOMEM. */
    weir_err (*result)(void *state, const void *params, weir_value *out);
    /* Bytes serialize() will write for this state. */
    size_t (*serialized_size)(const void *state, const void *params);
    /* Writes the state, endian-independent; returns the bytes written. */
    size_t (*serialize)(const void *state, uint8_t *out, const void *params);
    /* Reads `len` bytes written by serialize() into zeroed memory, validating every byte
     * (the bytes are untrusted): WEIR_ERR_CORRUPT or WEIR_ERR_NOMEM leave nothing
     * allocated. */
    weir_err (*deserialize)(void *state, const uint8_t *in, size_t len, const void *params);
    /* Frees what the state owns (not the inline memory itself). */
    void (*free)(void *state, const void *params);
    /* Heap bytes the state owns beyond state_size, for memory accounting. */
    size_t (*heap_bytes)(const void *state, const void *params);
    /* dst := dst without src's records, where every record of src is also in dst (src was
     * merged into dst, or its records added to both): afterwards dst's result is what it
     * would be had those records never been added. Returns WEIR_OK or WEIR_ERR_NOMEM (dst
     * stays valid but its content is then unspecified: the operator stops). */
    weir_err (*unmerge)(void *dst, const void *src, const void *params);
} weir_gagg_ops;

/* A where filter of one aggregate: returns non-zero when the record counts for it. Called
 * once per accepted record and aggregate; must not keep `r`. */
typedef int (*weir_gagg_where_fn)(const void *ctx, const weir_row *r);

/*
 * One aggregate of an operator: what it computes (ops, params), which value of a record it
 * reads (an index into weir_row.values, -1 for none: `count()`), the records it sees
 * (where: NULL for every accepted record) and its output name. The operator copies the def;
 * params, where_ctx and name stay owned by the caller and must outlive the operator.
 */
typedef struct weir_gagg_def {
    const weir_gagg_ops *ops;
    const void *params;
    int field;
    weir_gagg_where_fn where;
    const void *where_ctx;
    const char *name;
} weir_gagg_def;

/*
 * The built-ins (docs/SEMANTICS.md). All have every function of the table but unmerge.
 * - count: with field -1 counts records; with a field, records whose value is present
 *   and not null. INT. Has unmerge.
 * - sum, min, max: over INT and DOUBLE values, others skipped. Exact int64 while every
 *   input is an integer and (sum) the running sum fits; otherwise doubles, summed in arrival
 *   order (hopping and session windows: in arrival order within each slice or session part,
 *   then the parts in time order). NULL when no number was seen.
 * - avg: the sum as above divided by the count of numbers, a DOUBLE; NULL without numbers.
 * - count_distinct: exact, over STRING and INT values, an integer taken as its decimal
 *   text (7 and "7" are one value); other values skipped. INT. Has unmerge (the state
 *   counts the records of each value).
 * - approx_count_distinct: HyperLogLog (weir/hll.h) over XXH3-64 of the same text; params:
 *   a `const int *` precision (WEIR_HLL_P_MIN..WEIR_HLL_P_MAX), NULL for WEIR_HLL_P_DEFAULT.
 *   INT, the rounded estimate.
 */
extern const weir_gagg_ops weir_gagg_count;
extern const weir_gagg_ops weir_gagg_sum;
extern const weir_gagg_ops weir_gagg_min;
extern const weir_gagg_ops weir_gagg_max;
extern const weir_gagg_ops weir_gagg_avg;
extern const weir_gagg_ops weir_gagg_count_distinct;
extern const weir_gagg_ops weir_gagg_approx_count_distinct;

/* The built-in named `name` ("count", "sum", ..., "approx_count_distinct"), or NULL.
 * Thread-safe. */
const weir_gagg_ops *weir_gagg_builtin(const char *name);

#ifdef __cplusplus
}
#endif
#endif
