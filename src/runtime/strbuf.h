/* A growable, NUL-terminated string buffer for the text the runtime renders (metrics, log
 * lines). An allocation failure sets `oom` and turns every later append into a no-op, so
 * callers check once at the end. */
#ifndef WEIR_RUNTIME_STRBUF_H
#define WEIR_RUNTIME_STRBUF_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static inline void buf_reserve(buf *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static inline void buf_put(buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Empties the buffer, keeping its memory. */
static inline void buf_clear(buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static inline void buf_str(buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

static inline void buf_printf(buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        buf_put(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

#endif
