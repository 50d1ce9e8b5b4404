/* The generic job's specs as text: predicates (--where), aggregates (--agg), keys (--key). */
#ifndef WEIR_SPEC_H
#define WEIR_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"
#include "weir/fields.h"
#include "weir/gagg.h"
#include "weir/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A compiled predicate (docs/SEMANTICS.md, "Keys, filters and aggregates"):
 * `FIELD OP LITERAL [and FIELD OP LITERAL ...]`, OP one of `= != < <= > >=`, LITERAL a JSON
 * number, a double-quoted JSON string, or a bare word (a string). A number compares
 * numerically with JSON numbers only (integers and doubles exactly, as mathematics orders
 * them); a string compares bytewise with JSON strings only. A missing or null field, or a
 * field of the other type, makes the comparison false, `!=` included.
 *
 * Ownership: the predicate owns its literals; the caller frees it with weir_pred_destroy().
 * Thread-safety: evaluating one predicate from several threads is safe.
 */
typedef struct weir_pred weir_pred;

/* The longest predicate text, and the most comparisons in one. */
#define WEIR_PRED_MAX_TEXT  65536
#define WEIR_PRED_MAX_TERMS 256

/*
 * Parses `text` and adds the fields it reads to `fields` (which must outlive the predicate:
 * the predicate reads values by their index there). Returns WEIR_OK; WEIR_ERR_INVALID_ARG
 * with one line in errstr naming the text (cut at 80 bytes) and what is accepted;
 * WEIR_ERR_NOMEM. *out is set only on success.
 */
weir_err weir_pred_parse(const char *text, weir_fields *fields, weir_pred **out, char *errstr,
                         size_t errstr_size);

/* Frees a predicate. Accepts NULL. */
void weir_pred_destroy(weir_pred *p);

/* 1 when every comparison holds for `values` (as weir_fields_decode() wrote them), else 0. */
int weir_pred_eval(const weir_pred *p, const weir_value *values);

/* weir_pred_eval() as a weir_gagg_where_fn: `ctx` is the weir_pred, r->values the values. */
int weir_pred_where(const void *ctx, const weir_row *r);

/*
 * A set of aggregate specs (`FUNC(FIELD) [where PRED] [as NAME]`), FUNC one of count, sum,
 * min, max, avg, count_distinct, approx_count_distinct (`count()` counts records; every other
 * function needs a field). The default NAME is `count` for `count()` and FUNC_FIELD
 * otherwise, dots turned into underscores; names are `[A-Za-z_][A-Za-z0-9_]*`, unique, and
 * not `window_start`, `window_end` or `late`.
 *
 * Ownership: the set owns the names, predicates and parameters its defs point to; the defs
 * stay valid until weir_aggs_destroy(). Thread-safety: one thread builds it.
 */
typedef struct weir_aggs weir_aggs;

/* The most aggregates of one set (the generic operator's limit). */
#define WEIR_AGGS_MAX 64

/* Creates an empty set whose fields go to `fields` (not owned, must outlive the set);
 * approx_count_distinct uses HyperLogLog precision `hll_precision`. NULL when out of
 * memory. */
weir_aggs *weir_aggs_new(weir_fields *fields, int hll_precision);

/* Frees the set. Accepts NULL. */
void weir_aggs_destroy(weir_aggs *a);

/* Parses one spec and appends its def. Returns WEIR_OK; WEIR_ERR_INVALID_ARG with one line in
 * errstr (bad syntax, unknown function, a duplicate name, more than WEIR_AGGS_MAX);
 * WEIR_ERR_NOMEM. The set is unchanged on error. */
weir_err weir_aggs_add(weir_aggs *a, const char *spec, char *errstr, size_t errstr_size);

/* The defs, in the order they were added; valid until the next add or destroy. */
const weir_gagg_def *weir_aggs_defs(const weir_aggs *a, size_t *n);

/*
 * A grouping key of one or more fields (`--key a,b`): each value a string or an integer
 * (its decimal text). The key bytes of a record are the text itself for one field, and for
 * several each text preceded by its length as 4 bytes little-endian, so that they decode back
 * to the parts (weir_key_parts).
 *
 * Ownership: the key owns its paths; weir_key_destroy() frees it. Thread-safety: one thread.
 */
typedef struct weir_key weir_key;

/* The most fields of one key. */
#define WEIR_KEY_MAX_FIELDS 16

/* Parses the comma-separated field list `text` (no empty names, none twice, at most
 * WEIR_KEY_MAX_FIELDS) and adds the fields to `fields` (not owned, must outlive the key).
 * Returns WEIR_OK, WEIR_ERR_INVALID_ARG with one line in errstr, or WEIR_ERR_NOMEM. */
weir_err weir_key_parse(const char *text, weir_fields *fields, weir_key **out, char *errstr,
                        size_t errstr_size);

/* Frees the key. Accepts NULL. */
void weir_key_destroy(weir_key *k);

/* The number of fields and the path of field i, as written. */
size_t weir_key_count(const weir_key *k);
const char *weir_key_path(const weir_key *k, size_t i);

/*
 * Writes the key bytes of a record's `values` into buf (cap bytes) and returns their length,
 * which may exceed cap (nothing then is guaranteed of buf: call again with a larger one);
 * returns (size_t)-1 when a key field is missing or not a string or an integer (the record
 * is invalid: no_key). Thread-safe.
 */
size_t weir_key_encode(const weir_key *k, const weir_value *values, char *buf, size_t cap);

/* Splits key bytes written by weir_key_encode() into weir_key_count() parts pointing into
 * `key`. Returns 0, or -1 when the bytes are not such a key. Thread-safe. */
int weir_key_parts(const weir_key *k, weir_slice key, weir_slice *parts);

#ifdef __cplusplus
}
#endif
#endif
