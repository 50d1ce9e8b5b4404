/* Internals of the window operator shared by window.c and window_snapshot.c. */
#ifndef WEIR_OPERATORS_WINDOW_INT_H
#define WEIR_OPERATORS_WINDOW_INT_H

#include <stdint.h>

#include "state/arena.h"
#include "state/dict.h"
#include "weir/window.h"

/*
 * A window keeps its (key, aggregates) entries densely in first-seen order (so
 * firings are emitted in a reproducible order), an open-addressing index over
 * them, its dictionary of distinct values, and an arena holding its key bytes.
 * Freeing a window frees all of that at once.
 */
#define WEIR__INLINE_KEY 16

typedef struct weir__kentry {
    uint64_t hash;
    uint32_t klen;
    uint32_t pad;
    /* Keys up to WEIR__INLINE_KEY bytes live here, zero-padded, so that comparing them
     * touches no other cache line; longer ones live in the window's arena. */
    union {
        char bytes[WEIR__INLINE_KEY];
        const char *ptr;
    } key;
    /* aggregate states follow, at the operator's offsets */
} weir__kentry;

static inline const char *weir__kentry_key(const weir__kentry *e)
{
    return e->klen <= WEIR__INLINE_KEY ? e->key.bytes : e->key.ptr;
}

typedef struct weir__win {
    int64_t start;
    uint32_t nkeys, cap_keys;
    uint8_t *entries; /* nkeys entries of the operator's stride */
    uint64_t *index;  /* (hash high 32 bits << 32) | (entry + 1); 0 empty */
    uint32_t imask;
    weir__dict dict;
    weir__arena arena;
    /* Adds to the exact distinct sets while the window is hot, not yet made: entry
     * index << 32 | dense id, in arrival order (see weir__win_flush). */
    uint64_t *log;
    uint32_t log_n, log_cap;
} weir__win;

/* How the operator adds a record to an aggregate: the built-in ones' common case inline,
 * any other through its table. */
enum { WEIR__AGG_OTHER = 0, WEIR__AGG_COUNT = 1, WEIR__AGG_DISTINCT = 2 };

struct weir_window_op {
    weir_window_params p;
    size_t stride;               /* bytes per entry */
    size_t offs[WEIR_MAX_AGGS];  /* state offset of each aggregate in an entry */
    uint8_t kind[WEIR_MAX_AGGS]; /* WEIR__AGG_*: how the operator adds to it */
    /* When the aggregates are at most one count and one exact distinct (the unique-users
     * job's), their offsets (0: absent), so that an add needs no loop over them. */
    int two_builtin;
    size_t count_off, distinct_off;
    const void *distinct_params;
    int need_dict;
    uint32_t dict_hint; /* values in the last window freed: sizes the next one */
    weir_watermark *wm;
    weir_emit_fn emit;
    void *emit_opaque;
    weir_late_fn late;
    void *late_opaque;
    weir__win **wins; /* ordered by start; the first nfired have fired */
    size_t nwin, capwin, nfired;
    size_t hot; /* index of the window used last */
    weir_window_stats st;
    int emit_failed;
    int nomem; /* a window's log could not be flushed where no error could be returned */
    uint64_t values[WEIR_MAX_AGGS];
};

static inline weir__kentry *weir__entry(const weir_window_op *op, const weir__win *w, uint32_t i)
{
    return (weir__kentry *)(w->entries + (size_t)i * op->stride);
}

/* Creates an empty window starting at `start`; NULL when out of memory. */
weir__win *weir__win_new(const weir_window_op *op, int64_t start);
/* Frees a window's aggregates and memory (no emission). */
void weir__win_free(const weir_window_op *op, weir__win *w);
/* Adds the window's logged ids to its exact distinct sets and empties the log. Returns
 * WEIR_OK, or WEIR_ERR_NOMEM with the ids not yet added still logged. */
weir_err weir__win_flush(const weir_window_op *op, weir__win *w);
/* Finds or inserts `key` in `w`; NULL when out of memory. */
weir__kentry *weir__win_key(weir_window_op *op, weir__win *w, uint64_t hash, const char *key,
                            size_t klen);

#endif
