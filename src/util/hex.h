/* Hex digits in text: JSON's \u escapes (json_scan.c, dynamodb.c) and SigV4's
 * percent-encoding and digests (sigv4.c) read and write them the same way. */
#ifndef WEIR_UTIL_HEX_H
#define WEIR_UTIL_HEX_H

#include <stddef.h>
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

/* The digit of the low four bits of v: lower case, or upper case (percent-encoding). */
static inline char weir__hexdigit(unsigned v)
{
    return "0123456789abcdef"[v & 15];
}

static inline char weir__hexdigit_upper(unsigned v)
{
    return "0123456789ABCDEF"[v & 15];
}

/* The n bytes at in as 2n lower-case hex digits at out, and a NUL. */
static inline void weir__hex_encode(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = weir__hexdigit(in[i] >> 4);
        out[2 * i + 1] = weir__hexdigit(in[i]);
    }
    out[2 * n] = '\0';
}

#endif
