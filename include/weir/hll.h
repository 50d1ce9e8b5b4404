/* HyperLogLog sketches: approximate distinct counting over 64-bit hashes, mergeable and
 * serializable. Usable on its own; the aggregate weir_agg_distinct_hll is built on it. */
#ifndef WEIR_HLL_H
#define WEIR_HLL_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A sketch of precision p keeps 2^p registers once it is large and has a relative
 * standard error of about 1.04 / sqrt(2^p) (0.81% at p = 14). Small sketches keep a
 * sparse list instead, exact for practical purposes and a few bytes per value, and
 * switch to registers when the list would outgrow them. docs/HLL.md has the design.
 *
 * The caller hashes each value with a good 64-bit hash (weir uses XXH3-64 of the value's
 * bytes, or the first word of the XXH3-128 fingerprint weir_event.user_fp) and adds the
 * hash. Sketches that will be merged must use the same hash function.
 *
 * Thread-safety: a sketch may be used by one thread at a time (even
 * weir_hll_estimate() updates a cached value). Different sketches are independent.
 */
typedef struct weir_hll weir_hll;

#define WEIR_HLL_P_MIN     4
#define WEIR_HLL_P_MAX     18
#define WEIR_HLL_P_DEFAULT 14

/* Bytes a sketch occupies when embedded in caller memory (weir_hll_embed_init()). */
#define WEIR_HLL_EMBED_SIZE 64

/*
 * Creates an empty sketch of precision `precision` (WEIR_HLL_P_MIN..WEIR_HLL_P_MAX) in *out.
 * Returns WEIR_OK, WEIR_ERR_INVALID_ARG (precision out of range, out NULL) or
 * WEIR_ERR_NOMEM. The caller frees the sketch with weir_hll_destroy().
 */
weir_err weir_hll_new(int precision, weir_hll **out);

/* Frees a sketch made by weir_hll_new(), weir_hll_clone() or weir_hll_deserialize().
 * Accepts NULL. On an embedded sketch it behaves as weir_hll_embed_fini(). */
void weir_hll_destroy(weir_hll *h);

/*
 * Initialises an empty sketch of precision `precision` inside `mem`, WEIR_HLL_EMBED_SIZE
 * bytes aligned for a pointer, owned by the caller (an aggregate's inline state). Returns
 * the sketch (at address `mem`), or NULL when precision is out of range. Values kept in
 * the first bytes need no allocation; larger sketches allocate, so the caller must
 * release it with weir_hll_embed_fini(). The sketch holds no pointer to itself, so its
 * bytes may be moved (memcpy, then use only the new place), but never duplicated: use
 * weir_hll_clone() or weir_hll_merge() into an empty sketch for a copy.
 */
weir_hll *weir_hll_embed_init(void *mem, int precision);

/* Frees what an embedded sketch allocated and leaves it empty (still initialised, same
 * precision). Accepts NULL. */
void weir_hll_embed_fini(weir_hll *h);

/* Copies `h` into a new sketch in *out, freed by the caller with weir_hll_destroy().
 * Returns WEIR_OK or WEIR_ERR_NOMEM. */
weir_err weir_hll_clone(const weir_hll *h, weir_hll **out);

/* The sketch's precision. */
int weir_hll_precision(const weir_hll *h);

/*
 * Adds the 64-bit hash of one value. Returns WEIR_OK, or WEIR_ERR_NOMEM when a sparse
 * sketch could not grow; the sketch is then unchanged and still valid.
 */
weir_err weir_hll_add(weir_hll *h, uint64_t hash);

/* The estimated number of distinct hashes added (Ertl's improved estimator; exact for
 * practical purposes while the sketch is sparse). 0 for an empty sketch. */
double weir_hll_estimate(weir_hll *h);

/*
 * dst := dst merged with src: afterwards dst holds exactly what a sketch fed with both
 * inputs would hold, at dst's precision. src may have dst's precision or a higher one
 * (its registers are folded down). Returns WEIR_OK, WEIR_ERR_INVALID_ARG when src has a
 * lower precision than dst (dst is unchanged), or WEIR_ERR_NOMEM (dst stays valid but
 * may hold part of src).
 */
weir_err weir_hll_merge(weir_hll *dst, const weir_hll *src);

/* Heap bytes owned by the sketch: its registers or sparse list, plus the sketch itself
 * when it was allocated by weir_hll_new() and friends (not when embedded). */
size_t weir_hll_heap_bytes(const weir_hll *h);

/* 1 while the sketch keeps a sparse list, 0 once it keeps registers. */
int weir_hll_is_sparse(const weir_hll *h);

/* Bytes weir_hll_serialize() writes for `h` as it is now. */
size_t weir_hll_serialized_size(const weir_hll *h);

/*
 * Writes `h` in the versioned, endian-independent format of docs/HLL.md into `out`
 * (capacity `cap`). Returns the bytes written, or 0 when cap < weir_hll_serialized_size(h)
 * (nothing is written then). Equal sketches give identical bytes.
 */
size_t weir_hll_serialize(const weir_hll *h, uint8_t *out, size_t cap);

/*
 * Reads `len` bytes written by weir_hll_serialize() into a new sketch in *out, freed by
 * the caller with weir_hll_destroy(). Every byte is validated; the input is untrusted.
 * Returns WEIR_OK, WEIR_ERR_CORRUPT (bad magic, length, checksum or content; *out is
 * left NULL), WEIR_ERR_UNSUPPORTED (a later format version) or WEIR_ERR_NOMEM.
 */
weir_err weir_hll_deserialize(const uint8_t *in, size_t len, weir_hll **out);

/*
 * As weir_hll_deserialize(), into the existing sketch `h` (made by weir_hll_new() or
 * weir_hll_embed_init()), whose previous content is freed on success; `h` takes the
 * precision stored in the bytes. On failure `h` is unchanged.
 */
weir_err weir_hll_deserialize_into(weir_hll *h, const uint8_t *in, size_t len);

#ifdef __cplusplus
}
#endif
#endif
