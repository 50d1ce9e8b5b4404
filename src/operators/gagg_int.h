/* What the distinct typed aggregates share: the text of a value. */
#ifndef WEIR_OPERATORS_GAGG_INT_H
#define WEIR_OPERATORS_GAGG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "state/bytes.h"
#include "util/decimal.h"
#include "weir/value.h"

/* The text a distinct aggregate counts for `v`: a string's bytes, an integer's decimal
 * text (written into buf, 24 bytes), so that 7 and "7" are one value. Returns 0, or -1 for
 * a value distinct aggregates skip. */
static inline int weir__distinct_text(const weir_value *v, char *buf, const char **ptr, size_t *len)
{
    if (!v)
        return -1;
    if (v->type == WEIR_VALUE_STRING) {
        *ptr = v->u.s.ptr;
        *len = v->u.s.len;
        return 0;
    }
    if (v->type == WEIR_VALUE_INT) {
        *len = weir__i64_dec(buf, v->u.i);
        *ptr = buf;
        return 0;
    }
    return -1;
}

#endif
