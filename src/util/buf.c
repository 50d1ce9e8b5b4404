/* Growable buffers (buf.h): the growth rule and the buffer's slow paths. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void *weir__grow(void *p, size_t *cap, size_t need)
{
    size_t c = *cap ? *cap : 256;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return NULL;
        c *= 2;
    }
    void *n = realloc(p, c);
    if (!n)
        return NULL;
    *cap = c;
    return n;
}

int weir__buf_grow(weir__buf *b, size_t more)
{
    if (more > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return -1;
    }
    char *p = weir__grow(b->p, &b->cap, b->len + more + 1);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->p[b->len] = '\0';
    return 0;
}

void weir__buf_printf(weir__buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        weir__buf_put(b, tmp, (size_t)n);
        return;
    }
    if (weir__buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
