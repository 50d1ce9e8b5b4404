/* A window's dictionary: interns distinct values (by 128-bit fingerprint) to dense ids. */
#ifndef WEIR_STATE_DICT_H
#define WEIR_STATE_DICT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Open addressing with linear probing over 16-byte slots holding 96 bits of the
 * value's 128-bit fingerprint and its id. The slot position comes from the stored
 * high part, so the table can grow without the values. Two distinct values are
 * confused only when 96 bits agree: about n^2 / 2^97, below 1e-17 per window at a
 * million distinct values, far below the rate of memory errors. Slots hold no
 * strings, which keeps a value's cost at 16 / load bytes.
 */
typedef struct weir__dict_slot {
    uint64_t lo;  /* low 64 bits of the fingerprint */
    uint32_t hi;  /* low 32 bits of the high half: the slot position */
    uint32_t id1; /* dense id + 1; 0 marks an empty slot */
} weir__dict_slot;

typedef struct weir__dict {
    weir__dict_slot *slots;
    uint32_t mask;  /* capacity - 1, capacity a power of two */
    uint32_t count; /* values interned; the next id */
} weir__dict;

/* Returns 0, or -1 when out of memory. */
int weir__dict_init(weir__dict *d, uint32_t capacity_pow2);
void weir__dict_free(weir__dict *d);
/* Grows the table; returns 0 or -1. */
int weir__dict_grow(weir__dict *d);

static inline void weir__dict_prefetch(const weir__dict *d, uint64_t fp_hi)
{
    __builtin_prefetch(&d->slots[fp_hi & d->mask]);
}

/* The id of the value with fingerprint (fp_lo, fp_hi), interning it if new.
 * Returns UINT32_MAX when out of memory. */
static inline uint32_t weir__dict_intern(weir__dict *d, uint64_t fp_lo, uint64_t fp_hi)
{
    /* Grow at a load of 7/8: linear probing stays short at that load with a good hash,
     * and memory per value stays low. */
    if ((uint64_t)(d->count + 1) * 8 > (uint64_t)(d->mask + 1) * 7 && weir__dict_grow(d) != 0)
        return UINT32_MAX;
    uint32_t hi = (uint32_t)fp_hi;
    uint32_t i = hi & d->mask;
    for (;;) {
        weir__dict_slot *s = &d->slots[i];
        if (s->id1 == 0) {
            s->lo = fp_lo;
            s->hi = hi;
            s->id1 = ++d->count;
            return s->id1 - 1;
        }
        if (s->lo == fp_lo && s->hi == hi)
            return s->id1 - 1;
        i = (i + 1) & d->mask;
    }
}

static inline size_t weir__dict_bytes(const weir__dict *d)
{
    return d->slots ? (size_t)(d->mask + 1) * sizeof(weir__dict_slot) : 0;
}

#endif
