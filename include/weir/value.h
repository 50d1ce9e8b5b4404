/* Typed field values, and rows: decoded records as the generic window operator sees them. */
#ifndef WEIR_VALUE_H
#define WEIR_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "weir/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The type of one field of a JSON record (docs/SEMANTICS.md, "Keys, filters and aggregates").
 * A JSON number written without fraction or exponent that fits in 64 bits is an integer;
 * every other JSON number within the double range is a double; a number outside the double
 * range (1e400) is WEIR_VALUE_OTHER, a value every aggregate skips. true, false, objects and
 * arrays are WEIR_VALUE_OTHER too.
 */
typedef enum weir_value_type {
    WEIR_VALUE_MISSING = 0, /* the record has no such field */
    WEIR_VALUE_NULL,        /* JSON null */
    WEIR_VALUE_INT,         /* i */
    WEIR_VALUE_DOUBLE,      /* d */
    WEIR_VALUE_STRING,      /* s: the unescaped UTF-8 text */
    WEIR_VALUE_OTHER        /* a boolean, object, array, or a number beyond the double range */
} weir_value_type;

/* One value. A string's slice points into the record or into the decoder's scratch space,
 * with the lifetime the function that produced it states. */
typedef struct weir_value {
    weir_value_type type;
    union {
        int64_t i;
        double d;
        weir_slice s;
    } u;
} weir_value;

/*
 * One decoded record (a row) as the generic window operator sees it: its event time, its source
 * partition, its grouping key, the raw bytes (for side outputs) and the values of the fields the
 * job asked for, in the order of the job's field list. The key is opaque bytes to the operator (a
 * job encodes a composite key its own way; empty for a global aggregation) and key_hash their
 * XXH3-64 hash, computed once by whoever built the record. Nothing is owned: the caller keeps every
 * pointer valid for the duration of the call it passes the record to.
 */
typedef struct weir_row {
    int64_t ts;        /* event time, milliseconds since the epoch, UTC */
    int32_t partition; /* source partition, 0 for a file */
    uint64_t key_hash; /* XXH3-64 of key's bytes */
    weir_slice key;    /* the grouping key */
    weir_slice raw;    /* the whole record as it was read */
    const weir_value *values;
    size_t n_values;
} weir_row;

#ifdef __cplusplus
}
#endif
#endif
