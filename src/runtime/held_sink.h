/* A sink that holds Kafka-bound firings in memory until a checkpoint releases them: their
 * key, JSON value and timestamp, in a byte log that is part of the checkpoint. */
#ifndef WEIR_RUNTIME_HELD_SINK_H
#define WEIR_RUNTIME_HELD_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/sink_int.h"

/* Entries: u8 has_key, u32 key length, key, u32 value length, value, i64 timestamp
 * (little-endian). */
typedef struct weir__held {
    weir_sink base; /* firing appends; record is refused (side outputs are not held) */
    uint8_t *log;
    size_t len, cap;
    uint64_t count;
    char *json;
    size_t json_cap;
} weir__held;

/* NULL when out of memory. `key_field` and `aggs` as for every sink. Free with
 * weir_sink_destroy(). */
weir__held *weir__held_new(const char *key_field, const weir_agg_spec *aggs, size_t n_aggs);

/* Replaces the log with a copy of `log` (len bytes, `count` entries) after checking that
 * it parses; WEIR_ERR_CORRUPT when it does not, WEIR_ERR_NOMEM. */
weir_err weir__held_set(weir__held *h, const uint8_t *log, size_t len, uint64_t count);

/* Appends one pre-formatted firing (key NULL: none): for units that format their own
 * output (runtime/unit.h). WEIR_ERR_NOMEM. */
weir_err weir__held_put(weir__held *h, const char *key, size_t key_len, const char *val, size_t len,
                        int64_t ts);

/* Whether `s` is a held sink. */
int weir__held_is(const weir_sink *s);

/* Empties the log. */
void weir__held_clear(weir__held *h);

typedef struct weir__held_entry {
    const char *key; /* NULL: no key */
    size_t key_len;
    const char *val;
    size_t len;
    int64_t ts;
} weir__held_entry;

/* Walks the entries of a log: returns the offset of the next entry and fills `e`, or 0 at
 * the end or on a malformed entry (*bad set). */
size_t weir__held_next(const uint8_t *log, size_t len, size_t at, weir__held_entry *e, int *bad);

#endif
