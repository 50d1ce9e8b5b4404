/* A window's dictionary of distinct values: sizing, growth, export (the hot path is inline
 * in dict.h). */
#include "state/dict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "state/bytes.h"

/* Large tables are probed at random, one slot per record: with 4 KiB pages nearly every
 * probe also misses the TLB. Asking for transparent huge pages removes most of those.
 * They are mapped directly rather than malloc'ed: a table given up when the dictionary
 * grows then goes back to the system at once (malloc kept freed tables resident, as much
 * again as the live one), and fresh pages come zeroed. */
#define HUGE_BYTES (2u << 20)
#define MIN_CAP    64u
#define MAX_CAP    (7u << 28)

static weir__dict_slot *alloc_slots(uint32_t n)
{
    size_t bytes = (size_t)n * sizeof(weir__dict_slot);
    if (bytes < HUGE_BYTES)
        return calloc(n, sizeof(weir__dict_slot));
    /* Map a huge page more than needed, then unmap the parts outside the aligned range. */
    size_t span = bytes + HUGE_BYTES;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + span - (p + bytes));
    if (tail)
        munmap(p + bytes, tail);
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return (weir__dict_slot *)p;
}

static void free_slots(weir__dict_slot *slots, uint32_t n)
{
    size_t bytes = (size_t)n * sizeof(weir__dict_slot);
    if (!slots)
        return;
    if (bytes < HUGE_BYTES)
        free(slots);
    else
        munmap(slots, bytes);
}

/* The ladder step after cap: 2^k * {4, 5, 6, 7} / 4. */
static uint32_t next_cap(uint32_t cap)
{
    uint32_t p = 1;
    while (p * 2 <= cap)
        p *= 2;
    /* cap = p * q / 4 with q in 4..7 (p >= 64, so p / 4 is exact) */
    return cap + p / 4;
}

int weir__dict_init(weir__dict *d, uint32_t expected)
{
    uint32_t cap = MIN_CAP;
    while (cap < MAX_CAP && (uint64_t)cap * 7 < (uint64_t)expected * 8)
        cap = next_cap(cap);
    d->slots = alloc_slots(cap);
    if (!d->slots)
        return -1;
    d->cap = cap;
    d->count = 0;
    return 0;
}

void weir__dict_free(weir__dict *d)
{
    free_slots(d->slots, d->cap);
    d->slots = NULL;
    d->cap = 0;
    d->count = 0;
}

int weir__dict_grow(weir__dict *d)
{
    if (d->cap >= MAX_CAP)
        return -1;
    weir__dict nd = {alloc_slots(next_cap(d->cap)), next_cap(d->cap), d->count};
    if (!nd.slots)
        return -1;
    for (uint32_t i = 0; i < d->cap; i++) {
        weir__dict_slot s = d->slots[i];
        if (!s.id1)
            continue;
        uint32_t j = weir__dict_home(&nd, s.hi);
        while (nd.slots[j].id1)
            if (++j == nd.cap)
                j = 0;
        nd.slots[j] = s;
    }
    free_slots(d->slots, d->cap);
    *d = nd;
    return 0;
}

void weir__dict_export(const weir__dict *d, uint8_t *out)
{
    for (uint32_t i = 0; i < d->cap; i++) {
        const weir__dict_slot *s = &d->slots[i];
        if (!s->id1)
            continue;
        uint8_t *p = out + 12 * (size_t)(s->id1 - 1);
        weir__put_le64(p, s->lo);
        weir__put_le32(p + 8, s->hi);
    }
}
