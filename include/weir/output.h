/* How a firing is written out: the JSON record of docs/SEMANTICS.md. */
#ifndef WEIR_OUTPUT_H
#define WEIR_OUTPUT_H

#include <stddef.h>

#include "weir/aggregate.h"
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

#ifdef __cplusplus
}
#endif
#endif
