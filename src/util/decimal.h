/* Decimal text of integers, for the hot paths where snprintf's format parsing costs more
 * than the digits (a distinct aggregate's text of each integer value). */
#ifndef WEIR_UTIL_DECIMAL_H
#define WEIR_UTIL_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Writes the decimal text of v (a '-' first when negative) at buf, which has room for 20
 * bytes, without a terminating NUL; returns its length. */
static inline size_t weir__i64_dec(char *buf, int64_t v)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char t[20];
    size_t n = 0, len = 0;
    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = t[--n];
    return len;
}

#endif
