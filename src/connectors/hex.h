/* Hex digits in text: JSON's \u escapes (json_decode.c, dynamodb.c) and SigV4's
 * percent-encoding (sigv4.c) read them the same way. */
#ifndef WEIR_CONNECTORS_HEX_H
#define WEIR_CONNECTORS_HEX_H

#include <stdint.h>

/* The value of hex digit c (either case), or -1 when c is not one. */
static inline int weir__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits at s (a \u escape's), the caller having checked that four bytes are
 * there, into *out; 0, or -1 when one is not a hex digit. */
static inline int weir__hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = weir__hexval(s[i]);
        if (h < 0)
            return -1;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

#endif
