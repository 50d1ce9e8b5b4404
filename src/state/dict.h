/* A window's dictionary: interns distinct values (by 128-bit fingerprint) to dense ids. */
#ifndef WEIR_STATE_DICT_H
#define WEIR_STATE_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "state/prefetch.h"

/*
 * Open addressing with linear probing over 16-byte slots holding 96 bits of the
 * value's 128-bit fingerprint and its id. The slot position comes from the stored
 * high part, so the table can grow without the values. Two distinct values are
 * confused only when 96 bits agree: about n^2 / 2^97, below 1e-17 per window at a
 * million distinct values, far below the rate of memory errors. Slots hold no
 * strings, which keeps a value's cost at 16 / load bytes.
 *
 * The capacity is not a power of two but a step of a ladder four steps per doubling
 * (2^k times 1, 1.25, 1.5, 1.75), and a position is the 32-bit part scaled to it
 * (multiply and shift): at the growth load of 7/8 the table then ends 66% to 88% full
 * instead of 44% to 88%, which is a quarter less memory on average for the largest
 * part of exact state.
 */
typedef struct weir__dict_slot {
    uint64_t lo;  /* low 64 bits of the fingerprint */
    uint32_t hi;  /* low 32 bits of the high half: the slot position */
    uint32_t id1; /* dense id + 1; 0 marks an empty slot */
} weir__dict_slot;

typedef struct weir__dict {
    weir__dict_slot *slots;
    uint32_t cap;   /* slots */
    uint32_t count; /* values interned; the next id */
} weir__dict;

/* Returns 0, or -1 when out of memory. The table holds `expected` values before it
 * first grows. */
int weir__dict_init(weir__dict *d, uint32_t expected);
void weir__dict_free(weir__dict *d);
/* Grows the table; returns 0 or -1. */
int weir__dict_grow(weir__dict *d);

static inline uint32_t weir__dict_home(const weir__dict *d, uint32_t hi)
{
    return (uint32_t)(((uint64_t)hi * d->cap) >> 32);
}

static inline void weir__dict_prefetch(const weir__dict *d, uint64_t fp_hi)
{
    weir__prefetch(&d->slots[weir__dict_home(d, (uint32_t)fp_hi)]);
}

/* The id of the value with fingerprint (fp_lo, fp_hi), interning it if new.
 * Returns UINT32_MAX when out of memory. */
static inline uint32_t weir__dict_intern(weir__dict *d, uint64_t fp_lo, uint64_t fp_hi)
{
    /* Grow at a load of 7/8: linear probing stays short at that load with a good hash,
     * and memory per value stays low. */
    if ((uint64_t)(d->count + 1) * 8 > (uint64_t)d->cap * 7 && weir__dict_grow(d) != 0)
        return UINT32_MAX;
    uint32_t hi = (uint32_t)fp_hi;
    uint32_t i = weir__dict_home(d, hi);
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
        if (++i == d->cap)
            i = 0;
    }
}

/* Writes the values in id order, 12 bytes each (fingerprint low 64 bits, then the
 * 32-bit position part, little-endian), into out (12 * count bytes). */
void weir__dict_export(const weir__dict *d, uint8_t *out);

static inline size_t weir__dict_bytes(const weir__dict *d)
{
    return d->slots ? (size_t)d->cap * sizeof(weir__dict_slot) : 0;
}

#endif
