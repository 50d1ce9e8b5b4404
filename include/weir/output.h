/* How a firing is written out: the JSON record of docs/SEMANTICS.md. */
#ifndef WEIR_OUTPUT_H
#define WEIR_OUTPUT_H

#include <stddef.h>

#include "weir/aggregate.h"
#include "weir/gagg.h"
#include "weir/gwindow.h"
#include "weir/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes the JSON object of `f` without a newline:
 * {"<key_field>":"<key>","window_start":"...","window_end":"...","<agg field>":N,...}
 * followed by ,"late":true on late firings. `key_field` NULL omits the key
 * (a global aggregation). Strings are escaped as JSON requires.
 * Writes at most `cap` bytes (NUL-terminated when cap > 0) and returns the
 * length the full record needs, excluding the NUL, as snprintf does. Thread-safe.
 */
size_t weir_firing_to_json(const weir_firing *f, const char *key_field, const weir_agg_spec *aggs,
                           char *buf, size_t cap);

/* Writes `s` as a JSON string literal (with quotes) into buf, at most cap bytes,
 * NUL-terminated when cap > 0; returns the length needed. Thread-safe. */
size_t weir_json_quote(weir_slice s, char *buf, size_t cap);

/*
 * Writes a firing of the generic operator as one JSON object without a newline
 * (docs/SEMANTICS.md, "What a firing emits"): each key field by its path as written with its
 * part of the key as a JSON string (`n_keys` 0: a global aggregation, no key member),
 * window_start and window_end in ISO-8601, each aggregate by its def's name in order
 * (integers as integers, doubles as weir_format_double() writes them, null; a string result
 * as a JSON string), then ,"late":true on late firings. Writes at most `cap` bytes
 * (NUL-terminated when cap > 0) and returns the length the whole object needs, as snprintf
 * does. Thread-safe.
 */
size_t weir_gfiring_to_json(const weir_gwindow_firing *f, const char *const *key_fields,
                            const weir_slice *key_parts, size_t n_keys, const weir_gagg_def *aggs,
                            char *buf, size_t cap);

/*
 * Writes the shortest decimal text that reads back as `d` into buf (at least 32 bytes),
 * with ".0" added when it would otherwise read as an integer, and returns its length.
 * Infinities and NaN, which JSON cannot hold, are written as null. Thread-safe.
 */
size_t weir_format_double(double d, char *buf);

#ifdef __cplusplus
}
#endif
#endif
