/* A bump allocator whose memory is freed all at once: freeing a window frees its keys. */
#include "state/arena.h"

#include <stdint.h>
#include <stdlib.h>

struct weir__arena_chunk {
    weir__arena_chunk *next;
    size_t size;
};

#define CHUNK_MIN 4096

void *weir__arena_alloc(weir__arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if ((size_t)(a->end - a->cur) < n || !a->cur) {
        size_t want = a->bytes < CHUNK_MIN ? CHUNK_MIN : a->bytes; /* doubling */
        if (want > (1u << 20))
            want = 1u << 20;
        if (want < n + sizeof(weir__arena_chunk))
            want = n + sizeof(weir__arena_chunk);
        weir__arena_chunk *c = malloc(want);
        if (!c)
            return NULL;
        c->next = a->head;
        c->size = want;
        a->head = c;
        a->bytes += want;
        a->cur = (char *)c + ((sizeof(weir__arena_chunk) + 7) & ~(size_t)7);
        a->end = (char *)c + want;
    }
    void *p = a->cur;
    a->cur += n;
    return p;
}

void weir__arena_free(weir__arena *a)
{
    weir__arena_chunk *c = a->head;
    while (c) {
        weir__arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->bytes = 0;
}
