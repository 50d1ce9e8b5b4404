/* A window's dictionary: interns distinct values (by fingerprint) to dense ids. */
#ifndef WEIR_STATE_DICT_H
#define WEIR_STATE_DICT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "state/prefetch.h"

/*
 * Open addressing with linear probing over 12-byte slots: the low 64 bits of the
 * value's 128-bit fingerprint, and one 32-bit word holding the dense id (+ 1, so that
 * 0 marks an empty slot) in its low `idbits` bits and the top 32 - idbits bits of the
 * fingerprint's high half above it. A table of capacity c needs idbits = bit length of
 * c, so every bit the ids do not need holds fingerprint: 64 + 32 - idbits bits in all,
 * 75 at a million distinct values, 71 at 16 million. Two distinct values are confused
 * only when all those bits agree: about n^2 / 2^(bits + 1), 1.3e-11 per window at a
 * million distinct values and 5e-8 at 16 million, below the rate of memory errors in
 * the same state. Slots hold no strings, which keeps a value's cost at 12 / load bytes.
 * The slot position comes from the stored low half, so the table can grow without the
 * values; growing past a power of two takes one more bit for ids, and every stored
 * fingerprint gives up its lowest kept bit (idbits never shrinks).
 *
 * The values are kept in the order of their low 64 bits, which is also the order of their
 * homes (ordered linear probing): a lookup stops at the first larger value, a new value
 * goes before it and the rest of its run moves up a slot, and growing is one pass that
 * needs no probing (dict.c). Runs do not wrap: past the last home come `ovf` more slots,
 * widened when a run reaches their end (homes crowded at the top of the range).
 *
 * The capacity is not a power of two but a step of a ladder four steps per doubling
 * (2^k times 1, 1.25, 1.5, 1.75), and a position is the 32-bit part scaled to it
 * (multiply and shift): at the growth load of 4/5 the table then ends 64% to 80% full
 * instead of 40% to 80%, which is a quarter less memory on average for the largest
 * part of exact state. (A growth load of 7/8 kept 12.62 bytes per (key, user) pair at a
 * million pairs where 4/5 keeps 14.84 with the window's log, but its longer probes made
 * operator-exact 10% slower: 4/5 spends the headroom below 16 bytes a pair on speed.)
 */
typedef struct weir__dict_slot {
    uint32_t lo[2]; /* low 64 bits of the fingerprint, low word first */
    uint32_t tag;   /* fingerprint bits above idbits, id + 1 below; 0 when empty */
} weir__dict_slot;

typedef struct weir__dict {
    weir__dict_slot *slots;
    uint32_t cap;    /* slots that are homes */
    uint32_t count;  /* values interned; the next id */
    uint32_t idbits; /* low bits of a slot's tag holding the id */
    uint32_t full;   /* the count at which the table grows: cap * 4 / 5 */
    uint32_t ovf;    /* slots past the last home, for runs that reach past it */
} weir__dict;

/* Returns 0, or -1 when out of memory. The table holds `expected` values before it
 * first grows. */
int weir__dict_init(weir__dict *d, uint32_t expected);
void weir__dict_free(weir__dict *d);
/* Grows the table; returns 0 or -1. */
int weir__dict_grow(weir__dict *d);
/* The low 64 bits of the fingerprint in slot s (one load on x86). */
static inline uint64_t weir__dict_slot_lo(const weir__dict_slot *s)
{
    return (uint64_t)s->lo[1] << 32 | s->lo[0];
}

/* Slots in the table: the homes and those past the last one. */
static inline uint32_t weir__dict_len(const weir__dict *d)
{
    return d->cap + d->ovf;
}

/* Stores a new value in the empty slot s and returns its id, the next one. */
static inline uint32_t weir__dict_put(weir__dict *d, weir__dict_slot *s, uint64_t fp_lo,
                                      uint32_t tag)
{
    s->lo[0] = (uint32_t)fp_lo;
    s->lo[1] = (uint32_t)(fp_lo >> 32);
    s->tag = tag << d->idbits | ++d->count;
    return d->count - 1;
}

/* Interns a value not in the table at slot `at`, where the value at `at` has larger low
 * bits: the run from `at` to its end moves up a slot (weir__dict_intern's insertion in the
 * middle of a run). Returns its id, or UINT32_MAX when out of memory. */
uint32_t weir__dict_insert_at(weir__dict *d, uint32_t at, uint64_t fp_lo, uint32_t tag);

static inline uint32_t weir__dict_home(const weir__dict *d, uint64_t fp_lo)
{
    return (uint32_t)(((fp_lo >> 32) * d->cap) >> 32);
}

static inline void weir__dict_prefetch(const weir__dict *d, uint64_t fp_lo)
{
    /* A probe reads on from the home slot: under 1.6 slots on average at the load this
     * table keeps, so from a random place in a line it often ends in the next one, and a miss
     * there is not hidden. Fetching that line too made operator-exact 12% faster. */
    const char *s = (const char *)&d->slots[weir__dict_home(d, fp_lo)];
    weir__prefetch(s);
    weir__prefetch(s + 64);
}

/* The id of the value with fingerprint (fp_lo, fp_hi), interning it if new.
 * Returns UINT32_MAX when out of memory. */
static inline uint32_t weir__dict_intern(weir__dict *d, uint64_t fp_lo, uint64_t fp_hi)
{
    /* Grow at a load of 4/5: linear probing stays short at that load with a good hash
     * (a run ahead of an insertion is 13 slots on average when the table is fullest,
     * 32 at 7/8), and memory per value stays low. */
    if (d->count >= d->full && weir__dict_grow(d) != 0)
        return UINT32_MAX;
    const uint32_t idbits = d->idbits, tag = (uint32_t)fp_hi >> idbits;
    weir__dict_slot *s = &d->slots[weir__dict_home(d, fp_lo)], *end = d->slots + weir__dict_len(d);
    for (; s != end; s++) {
        uint32_t t = s->tag;
        if (t == 0)
            return weir__dict_put(d, s, fp_lo, tag);
        uint64_t lo = weir__dict_slot_lo(s);
        if (lo >= fp_lo) {
            if (lo == fp_lo && t >> idbits == tag)
                return (t & ((1u << idbits) - 1)) - 1;
            if (lo > fp_lo)
                break;
        }
    }
    /* Before a larger value, or past the last slot: the out-of-line insertion. */
    return weir__dict_insert_at(d, (uint32_t)(s - d->slots), fp_lo, tag);
}

/*
 * The dictionary in its snapshot form, which is also what a restore reads:
 * u8 idbits, then the values sorted by their low 64 bits as an Elias-Fano sequence
 * (upper parts in unary, then the low `L` bits and the tag of each value, L = 64 minus
 * the bit length of the count), about 64 - log2(n) + 2 + (32 - idbits) bits a value
 * where a plain list takes 96. Ids are numbered afresh in that order: map[old id] gets
 * the new id, and every set over these ids must be written through it. On success
 * *out is malloc'ed (the caller frees it) and the function returns 0; -1 when out of
 * memory (nothing allocated).
 */
int weir__dict_encode(const weir__dict *d, uint8_t **out, size_t *out_len, uint32_t *map);

/* Makes d (initialised or freed) the dictionary `count` values encoded in b[0..len):
 * ids 0..count-1 in encoded order. Returns 0; -1 when out of memory; -2 when the
 * bytes are not a well-formed encoding of `count` distinct values (d is then freed). */
int weir__dict_decode(weir__dict *d, const uint8_t *b, size_t len, uint32_t count);

static inline size_t weir__dict_bytes(const weir__dict *d)
{
    return d->slots ? (size_t)weir__dict_len(d) * sizeof(weir__dict_slot) : 0;
}

#endif
