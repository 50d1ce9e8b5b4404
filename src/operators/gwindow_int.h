/* The generic window operator's layout, shared by gwindow.c (processing) and
 * gwindow_snapshot.c (snapshot and restore). */
#ifndef WEIR_OPERATORS_GWINDOW_INT_H
#define WEIR_OPERATORS_GWINDOW_INT_H

#include <stdint.h>

#include "weir/gwindow.h"

#define WEIR__NONE       INT64_MAX
#define WEIR__KEY_INLINE 2

/* A block of aggregate states: one (key, slice) of tumbling and hopping windows, or one
 * (key, session). The states follow the header at op->offs[]. */
typedef struct weir__gblock {
    int64_t a;        /* slice index, or session start */
    int64_t b;        /* session end (exclusive); unused for slices */
    uint64_t records; /* accepted records */
    uint64_t fired;   /* session: has fired as this window (updates mode) */
} weir__gblock;

/* A key's reference to one of its blocks, with the block's a: searching a key's blocks
 * then reads one array, not every block (each a cache miss). */
typedef struct weir__gref {
    int64_t a;
    weir__gblock *b;
} weir__gref;

/* One key and its blocks, sorted by a (slices and sessions never overlap). */
typedef struct weir__gkey {
    uint64_t hash;
    uint32_t idx; /* slot in op->keys */
    uint32_t klen;
    int64_t fire_k;            /* hop: the next window to fire (or emit in final mode); NONE */
    int64_t fire_t;            /* threshold of the fire (final mode: emit) heap entry; NONE */
    int64_t close_t;           /* updates mode: threshold of the close heap entry; NONE */
    weir_value *cv;            /* hop: results of the last window fired, NULL until needed */
    int64_t cv_first, cv_last; /* its first and last slice */
    uint32_t cv_n;             /* its slices; 0: nothing kept (a slice changed since) */
    weir__gblock *run;         /* hop: running state of window run_k (aggregates with unmerge) */
    int64_t run_k;             /* NONE, or fire_k: run holds every record of its slices */
    weir__gref *bl;            /* inl, or an array of its own */
    uint32_t head, n, cap;     /* blocks bl[head .. head + n) */
    weir__gref inl[WEIR__KEY_INLINE];
    char kbytes[];
} weir__gkey;

typedef struct weir__hent {
    int64_t t;
    uint32_t key, gen;
    uint64_t p0; /* fire heap: the key's first 8 bytes, big-endian, zero-padded */
} weir__hent;

/* A fire-heap entry popped with others of the same threshold, to be fired in key order. */
typedef struct weir__fent {
    uint64_t p0;
    const struct weir__gkey *k;
    uint32_t key, gen;
} weir__fent;

typedef struct weir__heap {
    weir__hent *v;
    size_t n, cap;
} weir__heap;

/* Pending fires or cleanups by threshold t, in buckets of 2^WEIR__TQ_SHIFT ms (gwindow.c,
 * "What fires when"): `run` (sorted by t, from run_pos on) and the heap `near` hold every
 * entry of bucket <= cur, ring[b % N] holds bucket b for cur < b <= cur + N, and `far` is a
 * heap of the later ones. */
#define WEIR__TQ_SHIFT 6
#define WEIR__TQ_N     2048
typedef struct weir__tq {
    weir__heap run, near, far;
    size_t run_pos;
    weir__heap *ring; /* WEIR__TQ_N buckets (unsorted), NULL until needed */
    size_t ring_n;    /* entries in ring */
    int64_t cur;
} weir__tq;

/* Keys and blocks of up to WEIR__POOL_MAX bytes come from 2 MiB chunks mapped with
 * transparent huge pages, a free list per 16-byte size class (gwindow.c, "Memory"). */
#define WEIR__POOL_MAX   1024
#define WEIR__POOL_CHUNK ((size_t)2 << 20)
typedef struct weir__pool {
    void *free[WEIR__POOL_MAX / 16 + 1];
    char *bump, *bump_end;
    void *chunks; /* each chunk's first word links the next */
} weir__pool;

struct weir_gwindow {
    weir_gwindow_params p;
    weir_gagg_def defs[WEIR_GWINDOW_MAX_AGGS];
    size_t offs[WEIR_GWINDOW_MAX_AGGS];
    size_t block_size;
    uint8_t inv[WEIR_GWINDOW_MAX_AGGS]; /* hop: aggregate kept in the keys' running states */
    size_t n_inv;
    weir_gwindow_emit_fn emit;
    void *opaque;
    weir_gwindow_late_fn late_fn;
    void *late_opaque;
    weir_watermark *wm;
    int64_t wmv; /* the watermark firing has caught up with */
    /* slices: window k covers slices [k*r, k*r + n), slice j is [off + j*g, off + (j+1)*g) */
    int64_t g, off, r, nsl, L;
    /* keys */
    weir__gkey **keys;
    uint32_t *gens;
    uint32_t nkeys_cap, *freelist, nfree, used_slots;
    weir__gkey **tab; /* open addressing, linear probing, at most half full */
    size_t tab_bytes; /* mapped, when at least a huge page */
    uint32_t tmask, tcount;
    weir__tq fire, close;
    weir__fent *due; /* fire entries of one threshold */
    size_t due_cap;
    weir_value *vals;
    uint8_t *tmp; /* a block for merging slices */
    weir__pool pool;
    weir_gwindow_counters st;
    int single; /* final mode, or no lateness: one event per window (emit and free) */
    int failed; /* out of memory: only destroy */
    int io;     /* emit refused during the current call */
};

/* Operator internals used by the snapshot code. */
weir__gkey *weir__gkey_insert(weir_gwindow *op, uint64_t hash, const char *k, uint32_t klen);
weir__gblock *weir__gblock_new(weir_gwindow *op);
void weir__gblock_free(weir_gwindow *op, weir__gblock *b);
/* Zeroed memory of n bytes from the operator's pool (NULL when out of memory), and its
 * release: n must be the size it was allocated with. */
void *weir__gwindow_mem(weir_gwindow *op, size_t n);
void weir__gwindow_mem_free(weir_gwindow *op, void *p, size_t n);
int weir__gkey_append(weir__gkey *k, weir__gblock *b);
void weir__gwindow_clear(weir_gwindow *op);
int weir__gwindow_reschedule(weir_gwindow *op);

#endif
