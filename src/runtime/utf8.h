/* UTF-8 validation for text the runtime emits where consumers require valid UTF-8 (JSON log
 * lines, Prometheus label values and help texts). */
#ifndef WEIR_RUNTIME_UTF8_H
#define WEIR_RUNTIME_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence at s, 0 when it is not one. */
static inline size_t weir__utf8_len(const unsigned char *s)
{
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))
            return 0; /* overlong, surrogate */
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* 1 when the NUL-terminated `s` is valid UTF-8. */
static inline int weir__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : weir__utf8_len(p);
        if (!n)
            return 0;
        p += n;
    }
    return 1;
}

#endif
