/* A bump allocator whose memory is freed all at once: one per window. */
#ifndef WEIR_STATE_ARENA_H
#define WEIR_STATE_ARENA_H

#include <stddef.h>

typedef struct weir__arena_chunk weir__arena_chunk;

typedef struct weir__arena {
    weir__arena_chunk *head;
    char *cur, *end;
    size_t bytes; /* total bytes of all chunks */
} weir__arena;

/* Returns `n` bytes aligned to 8, or NULL when out of memory. Valid until weir__arena_free. */
void *weir__arena_alloc(weir__arena *a, size_t n);
/* Frees every chunk; the arena is empty and reusable afterwards. */
void weir__arena_free(weir__arena *a);

#endif
