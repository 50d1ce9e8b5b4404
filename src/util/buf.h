/* Buffers: the growable one that text is rendered into (log lines, metrics, DynamoDB requests,
 * SigV4 canonical requests), the growth rule that other growing blocks share, and the bounded
 * writer of the functions that format into a caller's buffer as snprintf does. */
#ifndef WEIR_UTIL_BUF_H
#define WEIR_UTIL_BUF_H

#include <stddef.h>
#include <string.h>

/* A larger allocation for p, which holds *cap bytes, with room for at least `need` bytes:
 * the capacity doubles from 256 until it fits. Returns the new block and sets *cap, or NULL
 * when out of memory, with p and *cap unchanged (p is still the caller's to free). Call it
 * only when need > *cap. */
void *weir__grow(void *p, size_t *cap, size_t need);

/* A growable, NUL-terminated string; zero-initialise it, free(p) when done. An allocation
 * failure sets `oom` and turns every later append into a no-op, so that callers check once,
 * at the end. */
typedef struct weir__buf {
    char *p;
    size_t len, cap;
    int oom;
} weir__buf;

/* The slow path of weir__buf_reserve. */
int weir__buf_grow(weir__buf *b, size_t more);

/* Makes room for `more` bytes and the NUL (an empty buffer then holds ""); 0, or -1 once out
 * of memory. */
static inline int weir__buf_reserve(weir__buf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    return weir__buf_grow(b, more);
}

static inline void weir__buf_put(weir__buf *b, const void *s, size_t n)
{
    if (weir__buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void weir__buf_str(weir__buf *b, const char *s)
{
    weir__buf_put(b, s, strlen(s));
}

static inline void weir__buf_chr(weir__buf *b, char c)
{
    weir__buf_put(b, &c, 1);
}

/* Empties the buffer, keeping its memory. */
static inline void weir__buf_clear(weir__buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* Appends printf's output, of any length. */
void weir__buf_printf(weir__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A bounded writer, as snprintf writes: it keeps what fits in buf (cap bytes; cap 0 and buf
 * NULL keep nothing) and counts all of it in len, so that a caller learns the size it needs. */
typedef struct weir__bounded {
    char *buf;
    size_t cap, len;
} weir__bounded;

static inline void weir__bounded_put(weir__bounded *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static inline void weir__bounded_str(weir__bounded *o, const char *s)
{
    weir__bounded_put(o, s, strlen(s));
}

/* Ends what was kept with a NUL: after it, or in the last byte when it was cut short. */
static inline void weir__bounded_finish(weir__bounded *o)
{
    if (o->cap)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

#endif
